"""Photo preparation: real types from bytes, EXIF orientation, downscaling, limits, cache."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from pipeline.transcript.attachments import plan_attachments
from pipeline.transcript.images import NotRenderable, prepare_image
from storage.image_cache import FileImageCache, read_prepared
from tests.transcript.factories import BlobShelf, jpeg, message, png, png_bomb
from usecases.transcript_rendering import render_environment


def test_photo_is_turned_upright_and_downscaled() -> None:
    # Orientation 6 means "rotate 90° clockwise to view": a 3200x1000 landscape becomes portrait.
    # JPEG decoding scales by 1/2 for free and the photo keeps the 1600 px it was asked for
    # (issue 16: photos came out at about 1000 px when decoding went down to 800).
    prepared = prepare_image(jpeg(3200, 1000, orientation=6), "image/jpeg", 1600, 64_000_000)
    assert (prepared.width, prepared.height) == (500, 1600)
    with Image.open(io.BytesIO(prepared.data)) as image:
        assert image.format == "JPEG" and image.size == (500, 1600)
        assert 0x0112 not in image.getexif()


def test_long_side_is_capped_at_1600_when_decoding_cannot_reach_it() -> None:
    prepared = prepare_image(png(2500, 1000), "image/png", 1600, 64_000_000)
    assert (prepared.width, prepared.height) == (1600, 640)


def test_transparent_png_is_flattened_to_jpeg_and_cached(tmp_path: Path) -> None:
    prepared = prepare_image(png(300, 200), "image/png", 1600, 64_000_000)
    assert (prepared.width, prepared.height) == (300, 200)
    cache = FileImageCache(tmp_path)
    stored = cache.store("b" * 64, 1600, "image/png", prepared)
    loaded, detected = cache.load("b" * 64, 1600)
    assert detected == "image/png"
    assert loaded == stored and (loaded.width, loaded.height) == (300, 200)
    assert read_prepared(loaded.ref) == prepared.data
    assert cache.load("b" * 64, 480) is None


def test_truncated_jpeg_is_not_renderable() -> None:
    data = jpeg(800, 600)
    with pytest.raises(NotRenderable, match="corrupt or truncated"):
        prepare_image(data[: len(data) // 2], "image/jpeg", 1600, 64_000_000)


def test_png_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(NotRenderable, match="exceeds"):
        prepare_image(png_bomb(), "image/png", 1600, 64_000_000)


def test_refused_photo_never_fills_the_cache(tmp_path: Path) -> None:
    shelf = BlobShelf()
    data = jpeg(800, 600)
    truncated = shelf.add(data[: len(data) // 2], "cut-off.jpg", "image/jpeg")
    whole = shelf.add(data, "whole.jpg", "image/jpeg")
    environment = render_environment(shelf.read, tmp_path)
    plan = plan_attachments([message(1, "photos", attachments=[truncated, whole])], environment, 1600, 64_000_000, 2, None)
    assert [o.disposition for o in plan.outcomes] == ["not renderable", "image"]
    assert environment.images.load(truncated.sha256, 1600) is None
    assert environment.images.load(whole.sha256, 1600) is not None
