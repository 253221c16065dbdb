"""What to extract from an attachment, decided from the bytes it starts with (never its name)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.files import sniff_content_type

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/tiff", "image/bmp"})


@dataclass(frozen=True)
class ExtractionPlan:
    """``method`` is image, pdf, text or skip; ``reason`` says why a file is skipped."""

    method: str
    content_type: str
    reason: str = ""


def plan_for(head: bytes, declared: str | None = None) -> ExtractionPlan:
    """Choose how to read a file from its first bytes; a declared type only matters for text."""
    sniffed = sniff_content_type(head[:64], guess_text=False)
    if sniffed in IMAGE_TYPES:
        return ExtractionPlan("image", sniffed)
    if sniffed == "application/pdf":
        return ExtractionPlan("pdf", sniffed)
    if sniffed == "application/octet-stream" and _is_text(head):
        return ExtractionPlan("text", "text/plain")
    return ExtractionPlan("skip", sniffed if sniffed != "application/octet-stream" else (declared or sniffed),
                          reason=f"not an image, PDF or text document ({sniffed})")


def _is_text(head: bytes) -> bool:
    """UTF-8 without control bytes (a cut multi-byte character at the end is allowed)."""
    if not head:
        return False
    text = head.decode("utf-8", errors="ignore")
    if len(text.encode("utf-8")) < len(head) - 3:
        return False
    return all(ch >= " " or ch in "\t\n\r\f" for ch in text)
