"""Content-type sniffing from leading bytes: file extensions and declared types can lie."""

from __future__ import annotations

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"BM", 0, "image/bmp"),
    (b"PK\x03\x04", 0, "application/zip"),
)

SNIFF_BYTES = 16


def sniff_content_type(head: bytes, *, guess_text: bool = True) -> str:
    """The content type a file's first bytes imply; application/octet-stream if unknown."""
    for magic, offset, content_type in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "image/heic"
    # Printable bytes only suggest text, they prove nothing; callers that must state only what a
    # signature proves (the dispute transcript) turn the guess off.
    if guess_text and _looks_like_text(head):
        return "text/plain"
    return "application/octet-stream"


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(b >= 0x20 or b in b"\t\n\r" for b in head)
