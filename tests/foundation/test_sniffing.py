"""One content sniffer for imports and transcripts: types come from the bytes, never from names."""

from __future__ import annotations

import pytest

from pipeline.files import SNIFF_BYTES, sniff_content_type
from tests.transcript.factories import jpeg, minimal_pdf, png

RIFF_WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 "


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (jpeg(10, 10), "image/jpeg"),
        (png(10, 10), "image/png"),
        (b"GIF87a\x01\x00", "image/gif"),
        (b"GIF89a\x01\x00", "image/gif"),
        (RIFF_WEBP, "image/webp"),
        (minimal_pdf(), "application/pdf"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"BM\x36\x00\x00\x00", "image/bmp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00", "image/heic"),
        (b"PK\x03\x04\x14\x00", "application/zip"),
        (b"MZ\x90\x00 not an image", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_signatures_prove_the_type_for_every_caller(head: bytes, expected: str) -> None:
    # Imports and transcripts agree on everything a signature proves.
    assert sniff_content_type(head[:SNIFF_BYTES]) == expected
    assert sniff_content_type(head[:SNIFF_BYTES], guess_text=False) == expected


def test_imports_guess_text_but_transcripts_do_not() -> None:
    script = b"#!/bin/sh\nrm -rf /\n"
    assert sniff_content_type(script[:SNIFF_BYTES]) == "text/plain"
    assert sniff_content_type(script[:SNIFF_BYTES], guess_text=False) == "application/octet-stream"
    assert sniff_content_type(b"\x00\x01binary", guess_text=True) == "application/octet-stream"
