"""The disk cache of photos prepared for transcripts, keyed by the original's SHA-256 and size.

A second render of the same conversation reads neither the originals nor Pillow's decoder. The
file name records the original's detected type, so a cache hit needs no original at all; a
reference handed to the render workers is simply the file's path.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from pipeline.transcript.model import PreparedImage, PreparedJpeg
from storage.files import atomic_write


class FileImageCache:
    """Prepared JPEGs under ``root/<sha[:2]>/<sha>-<long side>-<original subtype>.jpg``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str, long_side: int, detected_type: str) -> Path:
        """Return where the prepared variant of an original lives."""
        subtype = detected_type.rsplit("/", 1)[-1]
        return self.root / sha256[:2] / f"{sha256}-{long_side}-{subtype}.jpg"

    def load(self, sha256: str, long_side: int) -> tuple[PreparedImage, str] | None:
        """Return a previously prepared variant and the original's type, or None."""
        for path in sorted((self.root / sha256[:2]).glob(f"{sha256}-{long_side}-*.jpg")):
            # Opening reads only the header, which is all the size needs.
            with Image.open(path) as cached:
                width, height = cached.size
            detected_type = "image/" + path.stem.rsplit("-", 1)[-1]
            return PreparedImage(sha256=sha256, ref=str(path), width=width, height=height), detected_type
        return None

    def store(self, sha256: str, long_side: int, detected_type: str, image: PreparedJpeg) -> PreparedImage:
        """Write a prepared variant and return it with its path as the workers' reference."""
        path = self.path_for(sha256, long_side, detected_type)
        # Concurrent renders may prepare the same photo; the rename lets the last writer win
        # cleanly, and a cache that can be rebuilt is not worth an fsync.
        atomic_write(path, image.data, fsync=False)
        return PreparedImage(sha256=sha256, ref=str(path), width=image.width, height=image.height)


def read_prepared(ref: str) -> bytes:
    """Return the JPEG bytes behind a reference that ``FileImageCache`` handed out."""
    return Path(ref).read_bytes()
