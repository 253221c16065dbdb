"""Content-addressed attachment storage: the same bytes are stored once, keyed by SHA-256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO, Protocol

from storage.files import atomic_stream

CHUNK = 1 << 20


class BlobNotFound(KeyError):
    """No blob is stored under that key."""


class BlobStore(Protocol):
    """Where attachment bytes live; keys are lower-case SHA-256 hex digests."""

    def put_stream(self, stream: BinaryIO, max_bytes: int) -> tuple[str, int]: ...

    def read(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...


class BlobTooLarge(ValueError):
    """The stream was longer than the caller allowed."""


def _check_key(key: str) -> str:
    # Keys reach the filesystem: accept only what we generate, so no key can name a path.
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise BlobNotFound(key)
    return key


class FileBlobStore:
    """Blobs as files under ``root/ab/cd/<sha256>``, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, key: str) -> Path:
        key = _check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put_stream(self, stream: BinaryIO, max_bytes: int) -> tuple[str, int]:
        """Store the stream's bytes; return (key, size). Raises BlobTooLarge past ``max_bytes``."""
        digest = hashlib.sha256()
        size = 0
        # The temporary file sits in the root, on the same filesystem as every final path.
        with atomic_stream(self.root, fsync=True) as incoming:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge(f"larger than {max_bytes} bytes")
                digest.update(chunk)
                incoming.write(chunk)
            final = self.path_for(digest.hexdigest())
            # Identical bytes are already stored; the uncommitted copy is simply discarded.
            if not final.exists():
                final.parent.mkdir(parents=True, exist_ok=True)
                incoming.commit(final)
        return digest.hexdigest(), size

    def read(self, key: str) -> bytes:
        try:
            return self.path_for(key).read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def exists(self, key: str) -> bool:
        try:
            return self.path_for(key).is_file()
        except BlobNotFound:
            return False

    def head(self, key: str, size: int) -> tuple[bytes, int]:
        """The first ``size`` bytes of a blob and its whole length (content sniffing without reading it all)."""
        try:
            with self.path_for(key).open("rb") as stream:
                return stream.read(size), os.fstat(stream.fileno()).st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

