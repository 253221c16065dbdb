"""Hostile and broken files: each is recorded as unreadable with a reason, in time, and the caller survives."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from storage.sandbox import SandboxFailure, run_limited
from tests.attachments import files
from usecases.attachment_scanning import scan_file

DOMAINS = ("peermetals.com",)


def _scan(data: bytes):
    started = time.perf_counter()
    result = scan_file(data, DOMAINS)
    return result, time.perf_counter() - started


def test_decompression_bomb_header_is_refused_before_decoding():
    result, seconds = _scan(files.png_header_bomb(60_000, 60_000))
    assert result.status == "unreadable"
    assert "bomb" in result.reason or "too large" in result.reason
    assert seconds < 10


def test_twenty_thousand_square_image_is_refused():
    image = Image.new("1", (20_000, 20_000), 1)
    out = io.BytesIO()
    image.save(out, "PNG")
    result, seconds = _scan(out.getvalue())
    assert result.status == "unreadable"
    assert "20000x20000" in result.reason or "400000000 pixels" in result.reason
    assert seconds < 10


def test_truncated_jpeg_is_unreadable():
    data = files.text_image(["call me 602 555 0148"])
    result, _ = _scan(data[: len(data) // 2])
    assert result.status == "unreadable"
    assert "truncated" in result.reason or "corrupt" in result.reason


def test_garbage_after_an_image_signature_is_unreadable():
    result, _ = _scan(b"\x89PNG\r\n\x1a\n" + b"\x13" * 5000)
    assert result.status == "unreadable"
    assert "image" in result.reason


def test_encrypted_pdf_is_unreadable_with_the_reason():
    result, _ = _scan(files.encrypted_pdf())
    assert (result.status, result.reason) == ("unreadable", "encrypted PDF: its text cannot be read")


def test_pdf_with_thousands_of_pages_is_refused():
    result, seconds = _scan(files.blank_pdf(2_500))
    assert result.status == "unreadable"
    assert "2,500 pages" in result.reason
    assert seconds < 30


def test_polyglot_is_read_as_what_its_first_bytes_say_and_nothing_more():
    # A JPEG with a PDF and a zip appended: read as an image; the trailing documents are never parsed.
    image = files.text_image(["nothing to see"], size=(600, 300))
    polyglot = image + files.pdf_with_text(["call me 602 555 0148"]) + b"PK\x03\x04" + b"\x00" * 100
    result, _ = _scan(polyglot)
    assert result.status == "scanned" and result.method == "image"
    assert not [f for f in result.findings if f.kind == "phone"]


def test_zip_and_unknown_binaries_are_skipped_with_a_reason():
    result, _ = _scan(b"PK\x03\x04" + b"\x00" * 200)
    assert result.status == "unreadable"
    assert "application/zip" in result.reason


def test_a_reader_that_hangs_is_stopped_at_its_time_limit():
    started = time.perf_counter()
    with pytest.raises(SandboxFailure, match="longer than 1 s"):
        run_limited(time.sleep, (30,), seconds=1, memory_bytes=512 << 20)
    assert time.perf_counter() - started < 5


def test_a_reader_that_allocates_without_end_hits_the_memory_cap():
    with pytest.raises(SandboxFailure, match="memory"):
        run_limited(bytearray, (2 << 30,), seconds=20, memory_bytes=512 << 20)


def test_an_exception_in_the_reader_reaches_the_caller():
    with pytest.raises(ValueError, match="boom"):
        run_limited(_boom, (), seconds=10, memory_bytes=512 << 20)


def _boom():
    raise ValueError("boom")


def test_truncated_jpeg_is_unreadable_even_where_pillow_pads_truncated_images(monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # what WeasyPrint does process-wide
    data = files.text_image(["call me 602 555 0148"])
    result, _ = _scan(data[:-300])
    assert result.status == "unreadable"
    assert "truncated" in result.reason
