"""Atomic file writes: a temporary file in the target's directory, renamed over the target.

Readers see the old file or the new one, never half of one; a failed write leaves neither a
partial target nor a stray temporary file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class IncomingFile:
    """A temporary file being written; ``commit`` renames it over its target."""

    def __init__(self, directory: Path, fsync: bool) -> None:
        # The temporary name hides the file and ends in .part, so no glob for the real
        # names (*.eml, <sha>-*.jpg, *.pdf) can ever pick up a half-written file.
        fd, name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".part")
        self.path = Path(name)
        self._stream = os.fdopen(fd, "wb")
        self._fsync = fsync
        self.committed = False

    def write(self, data: bytes) -> None:
        """Append bytes to the temporary file."""
        self._stream.write(data)

    def commit(self, target: Path) -> None:
        """Flush (and fsync if asked), then rename the temporary file over ``target``."""
        self._stream.flush()
        if self._fsync:
            os.fsync(self._stream.fileno())
        self._stream.close()
        os.replace(self.path, target)
        self.committed = True

    def discard(self) -> None:
        """Close and remove the temporary file unless it was committed."""
        self._stream.close()
        if not self.committed:
            self.path.unlink(missing_ok=True)


@contextmanager
def atomic_stream(directory: Path, fsync: bool = True) -> Iterator[IncomingFile]:
    """Yield a temporary file in ``directory``; anything not committed is removed on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    incoming = IncomingFile(directory, fsync)
    try:
        yield incoming
    finally:
        incoming.discard()


def atomic_write(path: Path, data: bytes, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically, creating the directory if needed."""
    with atomic_stream(path.parent, fsync) as incoming:
        incoming.write(data)
        incoming.commit(path)
