"""Builders for transcript test data: conversations, photos and hostile attachments."""

from __future__ import annotations

import hashlib
import io
import zlib
from datetime import UTC, datetime, timedelta

from PIL import Image

from pipeline.transcript import (
    SenderRole,
    TranscriptAttachment,
    TranscriptConversation,
    TranscriptFinding,
    TranscriptMessage,
    TranscriptParty,
)

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 2, 12, 30, tzinfo=UTC)


class BlobShelf(dict):
    """An in-memory blob store twin: key -> bytes; records which keys were read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def add(self, data: bytes, name: str, content_type: str) -> TranscriptAttachment:
        """Store ``data`` and return the attachment record that points at it."""
        sha = hashlib.sha256(data).hexdigest()
        self[sha] = data
        return TranscriptAttachment(name, content_type, len(data), sha, sha)

    def read(self, key: str) -> bytes:
        """Return the stored bytes for ``key``."""
        self.reads.append(key)
        return self[key]


def jpeg(width: int, height: int, orientation: int | None = None, color=(180, 40, 40)) -> bytes:
    """Return a JPEG of one colour, optionally with an EXIF orientation tag."""
    image = Image.new("RGB", (width, height), color)
    image.paste((20, 20, 200), (0, 0, width // 4, height // 4))
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    image.save(buffer, "JPEG", quality=85, exif=exif.tobytes())
    return buffer.getvalue()


def png(width: int, height: int) -> bytes:
    """Return a small RGBA PNG."""
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 128, 0, 128)).save(buffer, "PNG")
    return buffer.getvalue()


def png_bomb(side: int = 30_000) -> bytes:
    """Return a tiny PNG that claims side×side pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    rows = zlib.compress(b"\x00" * (side // 8 + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def minimal_pdf() -> bytes:
    """Return a tiny but well-formed one-page PDF (a stand-in for a receipt)."""
    import pikepdf

    pdf = pikepdf.Pdf.new()
    pdf.add_blank_page()
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def message(
    index: int, body: str, *, findings=(), attachments=(), role: SenderRole | None = None,
    minutes: int = 95,
) -> TranscriptMessage:
    """Return message ``index`` of a two-party conversation, alternating senders."""
    role = role or (SenderRole.SELLER if index % 2 == 0 else SenderRole.BUYER)
    return TranscriptMessage(
        external_id=f"msg-{index:05d}",
        sender_role=role,
        sender_name="Sam Seller" if role is SenderRole.SELLER else "Bea Buyer",
        sent_at=START + timedelta(minutes=minutes * index),
        body=body,
        findings=tuple(findings),
        attachments=tuple(attachments),
    )


def conversation(messages, external_id: str = "conv-42") -> TranscriptConversation:
    """Return a conversation between Bea (Paris) and Sam (New York)."""
    return TranscriptConversation(
        external_id=external_id,
        order_ref="ORD-2026-0042",
        subject="1 oz gold Maple Leaf, 2019",
        buyer=TranscriptParty("buyer-7", "Bea Buyer", "Europe/Paris"),
        seller=TranscriptParty("seller-9", "Sam Seller", "America/New_York"),
        messages=tuple(messages),
    )


def plain_conversation(count: int) -> TranscriptConversation:
    """Return ``count`` ordinary messages."""
    return conversation([message(i, f"Message number {i}: is the coin still available?") for i in range(count)])


def finding(body: str, text: str, kind: str = "phone_number") -> TranscriptFinding:
    """Return a finding on the first occurrence of ``text`` in ``body``."""
    start = body.index(text)
    return TranscriptFinding(kind, start, start + len(text), text, 0.93)
