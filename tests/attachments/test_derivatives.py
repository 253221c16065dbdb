"""Photo derivatives are prepared when an attachment arrives, so transcripts never decode an original."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pypdf
from PIL import Image

from storage.image_cache import FileImageCache
from tests.attachments import files
from tests.attachments.test_stage import NOW, load
from usecases.attachment_scanning import scan_pending
from usecases.attachments import SIDES, image_cache, prepare_derivatives
from usecases.transcripts import create_request, fulfil_request


def _cached(cache: FileImageCache, sha256: str) -> dict[int, Image.Image]:
    found = {}
    for side in SIDES:
        hit = cache.load(sha256, side)
        if hit is not None:
            found[side] = Image.open(io.BytesIO(Path(hit[0].ref).read_bytes()))
    return found


def test_both_sizes_are_written_without_exif_and_a_second_call_reuses_them(tmp_path):
    photo = files.encode(Image.new("RGB", (4000, 3000), (180, 150, 90)),
                         exif=files.gps_exif((40, 44, 54.0), "N", (73, 59, 9.0), "W"))
    sha = hashlib.sha256(photo).hexdigest()
    cache = FileImageCache(tmp_path / "cache")
    first = prepare_derivatives(cache, sha, photo)
    assert set(first.prepared) == {1600, 480} and first.skipped is None
    images = _cached(cache, sha)
    assert {side: max(image.size) for side, image in images.items()} == {1600: 1600, 480: 480}
    assert all(image.format == "JPEG" and not image.getexif() for image in images.values())
    second = prepare_derivatives(cache, sha, photo)
    assert second.prepared == () and set(second.cached) == {1600, 480}


def test_documents_and_broken_photos_fill_nothing(tmp_path):
    cache = FileImageCache(tmp_path / "cache")
    assert prepare_derivatives(cache, "a" * 64, files.pdf_with_text(["hello"])).skipped.startswith("not a photo")
    truncated = files.plain_photo((1200, 900))[:5000]
    outcome = prepare_derivatives(cache, "b" * 64, truncated)
    assert outcome.prepared == () and "truncated" in outcome.skipped
    assert not any((tmp_path / "cache").rglob("*.jpg"))


def test_the_attachment_stage_prepares_them_and_a_transcript_needs_no_original(app, tmp_path):
    photo = files.plain_photo((4000, 3000))
    [message_id] = load(app, tmp_path, {"coin.jpg": photo})
    scan_pending(app, NOW)
    sha = hashlib.sha256(photo).hexdigest()
    assert set(_cached(image_cache(app), sha)) == {1600, 480}
    # The original disappears from the blob store: the transcript still shows the photo,
    # because it reads the derivative, never the original.
    for blob in (app.settings.data_dir / "blobs").rglob("*"):
        if blob.is_file():
            blob.unlink()
    outcome = fulfil_request(app, create_request(app, "c-1", "staff:dana", NOW), NOW)
    assert outcome.status == "done", outcome.error
    reader = pypdf.PdfReader(str(outcome.pdf_path))
    sizes = [image.image.size for page in reader.pages for image in page.images]
    assert (1600, 1200) in sizes
    text = "".join(page.extract_text() for page in reader.pages)
    assert "could not be read" not in text
