"""Photo derivatives prepared when an attachment arrives, so no transcript or console page decodes an original.

The attachment stage (``usecases.attachment_scanning``, queue ``attachment_scan``) reads every new
attachment once; right after its outcome commits, each photo is downscaled to the sizes the
transcript (``max_image_side``, 1600 px) and the console (``thumbnail_side``, 480 px) show, as
EXIF-free JPEGs in the same disk cache the renderer and the console read. The originals stay
untouched in the blob store. The cache can always be rebuilt: a missing derivative is prepared
on demand by its reader, so a failure here only costs time later, never a wrong picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.files import SNIFF_BYTES, sniff_content_type
from pipeline.transcript.images import RASTER_TYPES, NotRenderable, prepare_image
from pipeline.transcript.model import TranscriptOptions
from storage.image_cache import FileImageCache
from usecases.app import App

_OPTIONS = TranscriptOptions()
# Largest first: each smaller size is made from the one before, so the original is decoded once.
SIDES = (_OPTIONS.max_image_side, _OPTIONS.thumbnail_side)


@dataclass(frozen=True)
class Derivatives:
    """What preparing one attachment did: ``prepared`` sizes written, ``cached`` ones already there."""

    prepared: tuple[int, ...] = ()
    cached: tuple[int, ...] = ()
    skipped: str | None = None


def image_cache(app: App) -> FileImageCache:
    """The disk cache of prepared photos that transcripts and the console share."""
    return FileImageCache(cache_dir(app.settings.data_dir))


def cache_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "cache" / "transcript-images"


def prepare_derivatives(cache: FileImageCache, sha256: str, data: bytes,
                        max_pixels: int = _OPTIONS.max_image_pixels) -> Derivatives:
    """Write the transcript and console sizes of one photo whose bytes hash to ``sha256``."""
    detected = sniff_content_type(data[:SNIFF_BYTES], guess_text=False)
    if detected not in RASTER_TYPES:
        return Derivatives(skipped=f"not a photo ({detected})")
    sha256 = sha256.lower()
    missing = [side for side in SIDES if cache.load(sha256, side) is None]
    cached = tuple(side for side in SIDES if side not in missing)
    if not missing:
        return Derivatives(cached=cached)
    source, source_type = data, detected
    prepared: list[int] = []
    try:
        for side in missing:
            jpeg = prepare_image(source, source_type, side, max_pixels)
            cache.store(sha256, side, detected, jpeg)
            prepared.append(side)
            # The next, smaller size comes from this JPEG, not from the original again.
            source, source_type = jpeg.data, "image/jpeg"
    except NotRenderable as exc:
        return Derivatives(tuple(prepared), cached, skipped=str(exc))
    return Derivatives(tuple(prepared), cached)
