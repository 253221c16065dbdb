"""Input and output values of transcript rendering: plain frozen dataclasses, no infrastructure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from pipeline.transcript.parts import PartJob

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
class AttachmentRegion:
    """Where a finding was read in an attachment: its kind, page and ``[left, top, right, bottom]``
    in the upright original's pixels."""

    kind: str
    page: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class TranscriptAttachment:
    """A file shared in a message; the bytes stay in the blob store under ``blob_key``.

    ``regions`` and ``original_size`` (the upright original's width and height) let the appendix
    outline where contact details were read; neither is part of the chained record.
    """

    original_name: str
    content_type: str
    size: int
    sha256: str
    blob_key: str
    regions: tuple[AttachmentRegion, ...] = ()
    original_size: tuple[int, int] | None = None


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
    # 250 rather than 500: WeasyPrint's CPU per message grows with the part (500 messages took
    # 8.1 ms each, 250 and 125 took 7.4 ms), and each worker's peak memory is about halved
    # (+45 MB instead of +88 MB over the fork server's), with one fork more per 250 messages.
    messages_per_part: int = 250
    min_messages_to_split: int = 150
    workers: int = 2
    time_limit_seconds: float = 600.0
    evidence_max_pages: int = 20
    evidence_max_bytes: int = 5_000_000
    # A body longer than this is printed up to here (about 12 pages); the embedded record and the
    # chain keep all of it, and the page says how much more there is.
    printed_characters: int = 50_000
    requested_by: str = ""


@dataclass(frozen=True)
class AttachmentOutcome:
    """What became of one attachment in this render (shown inline and in the appendix)."""

    message_external_id: str
    attachment: TranscriptAttachment
    disposition: str  # "image", "text", "embedded", "listed" or "not renderable"
    detected_type: str
    reason: str = ""
    preview: str = ""  # the first lines of a text attachment, as printed


@dataclass(frozen=True)
class EmbeddedDocument:
    """A shared document (for instance a receipt PDF) to carry inside the transcript."""

    name: str
    data: bytes
    mime_type: str
    description: str


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
class PreparedJpeg:
    """A downscaled photo as EXIF-free JPEG bytes, ready to be cached and drawn."""

    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class PreparedImage:
    """A prepared photo kept outside the pipeline; ``ref`` tells the render workers where to load it."""

    sha256: str
    ref: str
    width: int
    height: int


class ImageCache(Protocol):
    """Keeps prepared photos by original SHA-256 and size, so a second render skips the originals."""

    def load(self, sha256: str, long_side: int) -> tuple[PreparedImage, str] | None:
        """Return a prepared variant and the original's detected type, or None."""

    def store(self, sha256: str, long_side: int, detected_type: str, image: PreparedJpeg) -> PreparedImage:
        """Keep a freshly prepared variant and return where the workers find it."""


class PartWorkers(Protocol):
    """Renders parts somewhere else (worker processes) under one time limit; a context manager."""

    def __enter__(self) -> PartWorkers: ...

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None: ...

    def submit_glyph_sheet(self) -> Any:
        """Start rendering the footer glyph sheet; return a handle for ``result``."""

    def submit(self, job: PartJob) -> Any:
        """Start rendering one part; return a handle for ``result``."""

    def result(self, handle: Any) -> Any:
        """Wait for a submitted job and return what it produced."""


#: Starts the part workers for one render: (worker count, time limit in seconds) -> workers.
WorkerFactory = Callable[[int, float], PartWorkers]


@dataclass(frozen=True)
class RenderEnvironment:
    """What a render reads and runs on: blobs, the image cache, the part workers, the templates."""

    read_blob: BlobReader
    images: ImageCache
    start_workers: WorkerFactory
    template_dir: Path | None = None
