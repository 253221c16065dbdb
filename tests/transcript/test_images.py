"""Photo preparation: real types from bytes, EXIF orientation, downscaling, limits, cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pipeline.transcript.images import NotRenderable, load_cached, prepare_image, sniff_type
from tests.transcript.factories import jpeg, minimal_pdf, png, png_bomb


def test_type_is_sniffed_from_bytes() -> None:
    assert sniff_type(jpeg(10, 10)[:16]) == "image/jpeg"
    assert sniff_type(png(10, 10)[:16]) == "image/png"
    assert sniff_type(minimal_pdf()[:16]) == "application/pdf"
    assert sniff_type(b"MZ\x90\x00 not an image") == "application/octet-stream"


def test_photo_is_turned_upright_and_downscaled(tmp_path: Path) -> None:
    # Orientation 6 means "rotate 90° clockwise to view": a 3200x1000 landscape becomes portrait.
    # JPEG decoding scales by 1/4 for free while the long side stays >= 800 px.
    prepared = prepare_image(jpeg(3200, 1000, orientation=6), "image/jpeg", "a" * 64, tmp_path, 1600, 64_000_000)
    assert (prepared.width, prepared.height) == (250, 800)
    with Image.open(prepared.path) as image:
        assert image.format == "JPEG" and image.size == (250, 800)
        assert 0x0112 not in image.getexif()


def test_long_side_is_capped_at_1600_when_decoding_cannot_reach_it(tmp_path: Path) -> None:
    prepared = prepare_image(png(2500, 1000), "image/png", "e" * 64, tmp_path, 1600, 64_000_000)
    assert (prepared.width, prepared.height) == (1600, 640)


def test_transparent_png_is_flattened_to_jpeg(tmp_path: Path) -> None:
    prepared = prepare_image(png(300, 200), "image/png", "b" * 64, tmp_path, 1600, 64_000_000)
    assert (prepared.width, prepared.height) == (300, 200)
    assert load_cached(tmp_path, "b" * 64, 1600)[1] == "image/png"


def test_truncated_jpeg_is_not_renderable(tmp_path: Path) -> None:
    data = jpeg(800, 600)
    with pytest.raises(NotRenderable, match="corrupt or truncated"):
        prepare_image(data[: len(data) // 2], "image/jpeg", "c" * 64, tmp_path, 1600, 64_000_000)
    assert load_cached(tmp_path, "c" * 64, 1600) is None


def test_png_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    with pytest.raises(NotRenderable, match="exceeds"):
        prepare_image(png_bomb(), "image/png", "d" * 64, tmp_path, 1600, 64_000_000)
