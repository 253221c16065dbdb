"""Limits that keep one hostile attachment from taking a worker down."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttachmentLimits:
    """What one attachment may cost: pixels, PDF pages read and OCR'd, text bytes, time and memory."""

    max_pixels: int = 50_000_000
    max_side: int = 16_000
    max_pdf_pages: int = 2_000
    ocr_pdf_pages: int = 5
    max_text_bytes: int = 1 << 20
    seconds: float = 60.0
    memory_bytes: int = 1536 << 20


def exceeds_pixel_limit(width: int, height: int, limits: AttachmentLimits) -> str | None:
    """A reason to refuse an image of this size, or None when it may be decoded."""
    if width <= 0 or height <= 0:
        return f"image has no pixels ({width}x{height})"
    if max(width, height) > limits.max_side or width * height > limits.max_pixels:
        return f"image too large to decode safely ({width}x{height} pixels; limit {limits.max_pixels:,} pixels, {limits.max_side} per side)"
    return None
