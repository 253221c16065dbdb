"""Attachment checks and photo preparation (pure): bytes in, a downscaled EXIF-free JPEG out."""

from __future__ import annotations

import hashlib
import io

from PIL import Image, ImageOps

from pipeline.transcript.model import PreparedJpeg, TranscriptAttachment

RASTER_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
DOCUMENT_TYPES = frozenset({"application/pdf"})
JPEG_QUALITY = 82


class NotRenderable(Exception):
    """An attachment that cannot be shown; the message is the reason printed in the PDF."""


def prepare_image(data: bytes, detected_type: str, long_side: int, max_pixels: int) -> PreparedJpeg:
    """Downscale one verified photo to ``long_side`` pixels; raise NotRenderable if unsafe."""
    check_complete(data, detected_type)
    image = _decode(data, long_side, max_pixels)
    buffer = io.BytesIO()
    # No EXIF is written: location and device data must not leak into the transcript.
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return PreparedJpeg(data=buffer.getvalue(), width=image.width, height=image.height)


def check_hash(data: bytes, attachment: TranscriptAttachment) -> None:
    """Raise NotRenderable unless the stored bytes are the ones the message recorded."""
    # The cache is keyed by the declared hash, so a blob that does not match must never fill it.
    actual = hashlib.sha256(data).hexdigest()
    if actual != attachment.sha256.lower():
        raise NotRenderable(f"stored bytes do not match the recorded SHA-256 (found {actual})")


def check_complete(data: bytes, detected_type: str) -> None:
    """Raise NotRenderable if the file ends before its format's end marker.

    WeasyPrint sets Pillow's global LOAD_TRUNCATED_IMAGES, which would silently pad a cut-off
    photo with grey; evidence must not look complete when it is not, so we check ourselves.
    """
    complete = {
        "image/jpeg": lambda: data.rfind(b"\xff\xd9") > data.rfind(b"\xff\xda") >= 0,
        "image/png": lambda: b"IEND" in data[-64:],
        "image/gif": lambda: data.rstrip(b"\x00").endswith(b"\x3b"),
        "image/webp": lambda: int.from_bytes(data[4:8], "little") + 8 <= len(data),
    }.get(detected_type, lambda: True)()
    if not complete:
        raise NotRenderable("corrupt or truncated image (the file ends before its end marker)")


def _decode(data: bytes, long_side: int, max_pixels: int) -> Image.Image:
    # Our own pixel limit sits below Pillow's MAX_IMAGE_PIXELS, so Pillow's bomb warning never
    # fires for an image we accept; changing warning filters here would not be thread-safe.
    try:
        with Image.open(io.BytesIO(data)) as image:
            _check_pixels(image, min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels))
            # JPEG draft mode decodes at 1/2, 1/4 or 1/8 scale, which is most of the speed-up; it
            # picks the smallest scale still at least ``long_side`` wide, so a 4000 px photo asked
            # for at 1600 px decodes at 2000 px and is resampled down (never shown below the cap).
            image.draft("RGB", _target_size(image.size, long_side))
            image.load()
            return _normalise(image, long_side)
    except NotRenderable:
        raise
    except Image.DecompressionBombError as exc:
        raise NotRenderable(f"refused as a decompression bomb ({exc})") from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise NotRenderable(f"corrupt or truncated image ({exc})") from exc


def _check_pixels(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels or width <= 0 or height <= 0:
        raise NotRenderable(f"refused: {width}×{height} pixels exceeds the {max_pixels:,} limit")


def _target_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """Return the size after downscaling to ``long_side``, aspect kept (never upscaling)."""
    scale = min(1.0, long_side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _normalise(image: Image.Image, long_side: int) -> Image.Image:
    # Downscale before turning upright: the bound is a square, so orientation cannot change the
    # result, and rotating the small image is much cheaper than rotating the original.
    image.thumbnail((long_side, long_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return _to_rgb(ImageOps.exif_transpose(image))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "P", "PA"):
        # Transparent pixels go on white, the page colour, rather than JPEG's default black.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")

