"""Input and output values of transcript rendering: plain frozen dataclasses, no infrastructure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path

#: Reads the stored bytes of one attachment, given its blob key.
BlobReader = Callable[[str], bytes]


class SenderRole(str, Enum):
    """Which side of the trade wrote a message."""

    BUYER = "buyer"
    SELLER = "seller"


@dataclass(frozen=True)
class TranscriptParty:
    """A buyer or seller as shown in the transcript header."""

    external_id: str
    name: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class TranscriptFinding:
    """A moderation finding on a span of one message body."""

    kind: str
    start: int
    end: int
    match_text: str
    score: float


@dataclass(frozen=True)
class TranscriptAttachment:
    """A file shared in a message; the bytes stay in the blob store under ``blob_key``."""

    original_name: str
    content_type: str
    size: int
    sha256: str
    blob_key: str


@dataclass(frozen=True)
class TranscriptMessage:
    """One message exactly as written, with its findings and attachments."""

    external_id: str
    sender_role: SenderRole
    sender_name: str
    sent_at: datetime
    body: str
    findings: tuple[TranscriptFinding, ...] = ()
    attachments: tuple[TranscriptAttachment, ...] = ()

    def __post_init__(self) -> None:
        # Naive datetimes would make the chain depend on the server's zone, so refuse them early.
        if self.sent_at.tzinfo is None or self.sent_at.utcoffset() is None:
            raise ValueError(f"message {self.external_id}: sent_at must be timezone-aware")


@dataclass(frozen=True)
class TranscriptConversation:
    """A whole buyer–seller conversation in send order."""

    external_id: str
    order_ref: str | None
    subject: str
    buyer: TranscriptParty
    seller: TranscriptParty
    messages: tuple[TranscriptMessage, ...]


@dataclass(frozen=True)
class TranscriptOptions:
    """How to render: full transcript or evidence excerpt, and the resource limits."""

    evidence: bool = False
    around_message_ids: tuple[str, ...] = ()
    context_messages: int = 3
    max_image_side: int = 1600
    thumbnail_side: int = 480
    max_image_pixels: int = 64_000_000
    messages_per_part: int = 500
    min_messages_to_split: int = 150
    workers: int = 2
    time_limit_seconds: float = 600.0
    evidence_max_pages: int = 20
    evidence_max_bytes: int = 5_000_000


@dataclass(frozen=True)
class AttachmentOutcome:
    """What became of one attachment in this render (shown inline and in the appendix)."""

    message_external_id: str
    attachment: TranscriptAttachment
    disposition: str  # "image", "embedded", "listed" or "not renderable"
    detected_type: str
    reason: str = ""


@dataclass(frozen=True)
class RenderedTranscript:
    """The finished PDF and the facts a caller records about it."""

    pdf: bytes
    sha256: str
    pages: int
    chain_head: str
    message_count: int
    shown_message_count: int
    attachments: tuple[AttachmentOutcome, ...]
    refused_urls: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RenderEnvironment:
    """Where a render may read and write: the blob reader, the image cache and the templates."""

    read_blob: BlobReader
    cache_dir: Path
    template_dir: Path | None = None
