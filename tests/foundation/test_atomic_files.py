"""Atomic writes: the target appears whole or not at all, and no temporary file survives a failure."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from storage.blobs import BlobTooLarge, FileBlobStore
from storage.files import atomic_stream, atomic_write


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_atomic_write_creates_the_directory_and_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.pdf"
    atomic_write(target, b"first")
    atomic_write(target, b"second", fsync=False)
    assert target.read_bytes() == b"second"
    assert _all_files(tmp_path) == ["a/b/out.pdf"]


def test_failed_rename_leaves_no_temporary_file(tmp_path: Path) -> None:
    # A directory in the target's place makes os.replace fail after the bytes were written.
    (tmp_path / "out.pdf").mkdir()
    with pytest.raises(OSError):
        atomic_write(tmp_path / "out.pdf", b"data")
    assert _all_files(tmp_path) == []


def test_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        atomic_write(tmp_path / "out.pdf", "not bytes")  # type: ignore[arg-type]
    assert _all_files(tmp_path) == []


def test_uncommitted_stream_is_removed_and_the_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "out.eml"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_stream(tmp_path) as incoming:
        incoming.write(b"half of the new")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert _all_files(tmp_path) == ["out.eml"]


def test_blob_too_large_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    with pytest.raises(BlobTooLarge):
        store.put_stream(io.BytesIO(b"x" * 100), max_bytes=10)
    assert _all_files(tmp_path) == []


def test_identical_blob_is_stored_once_without_leftovers(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    first = store.put_stream(io.BytesIO(b"same bytes"), max_bytes=100)
    second = store.put_stream(io.BytesIO(b"same bytes"), max_bytes=100)
    assert first == second
    assert _all_files(tmp_path) == [str(store.path_for(first[0]).relative_to(tmp_path))]
    assert store.read(first[0]) == b"same bytes"
