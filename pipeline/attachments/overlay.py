"""Outlines of where contact details were read, scaled from the original's pixels to a shown photo.

A finding's region is ``[left, top, right, bottom]`` in the pixels of the upright original (EXIF
orientation applied, as OCR read it); the console and transcripts show a downscaled upright
derivative. Both sides are computed here, without I/O: bytes in, numbers out.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

_SWAPPED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the image a quarter


@dataclass(frozen=True, slots=True)
class Outline:
    """A rectangle on the shown photo (its pixels), naming the kind of contact read there."""

    kind: str
    x: int
    y: int
    width: int
    height: int


def upright_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of an image as shown (EXIF orientation applied), from its header; None if unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return None
    return (height, width) if orientation in _SWAPPED_ORIENTATIONS else (width, height)


def shown_size(original: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The size of the derivative of an ``original``-sized image at ``long_side`` (never upscaled)."""
    scale = min(1.0, long_side / max(original))
    return max(1, round(original[0] * scale)), max(1, round(original[1] * scale))


def outline(kind: str, region: Sequence[int], original: tuple[int, int], shown: tuple[int, int]) -> Outline | None:
    """The region scaled onto the shown photo, clipped to it (at least 1 px); None if it lies outside."""
    if len(region) != 4 or min(original) <= 0:
        return None
    sx, sy = shown[0] / original[0], shown[1] / original[1]
    left, top = max(0, math.floor(region[0] * sx)), max(0, math.floor(region[1] * sy))
    right, bottom = min(shown[0], math.ceil(region[2] * sx)), min(shown[1], math.ceil(region[3] * sy))
    if left >= shown[0] or top >= shown[1] or right <= 0 or bottom <= 0 or region[2] < region[0] or region[3] < region[1]:
        return None
    return Outline(kind, left, top, max(1, right - left), max(1, bottom - top))
