"""Photos on the item page, on SQLite and PostgreSQL: only the prepared JPEG (downscaled, no
EXIF) is ever served, through the cache transcripts share; hostile names are inert; only
attachments of the item's own conversation; never on one's own account."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from storage.db import transaction
from storage.models import Attachment
from tests.console.cast import NOW, PASSWORD
from tests.review.factories import Marketplace, conversation, finding, message, user
from usecases import console, review, staff

HOSTILE = '../../etc/passwd"><script>alert(1)</script>.jpg'


def _photo(width=2400, height=1600) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."  # Make
    exif[0x8825] = {2: (37.0, 46.0, 30.0)}  # a GPS block
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 160, 40)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def _attach(app, session, msg, position: int, data: bytes, name: str, content_type: str) -> None:
    key, size = app.blobs.put_stream(io.BytesIO(data), 10_000_000)
    session.add(Attachment(message_id=msg.id, position=position, original_name=name, content_type=content_type, size=size,
                           sha256=hashlib.sha256(data).hexdigest(), blob_key=key))
    session.flush()


@pytest.fixture
def flagged(app):
    """An item whose flagged message carries a photo (hostile name) and a PDF; Ana's own item with a photo."""
    with transaction(app.session_factory) as session:
        market = Marketplace(session)
        staff.add_account(session, "ana@peermetals.com", "moderator", NOW, password=PASSWORD)
        msg = market.say(session, market.seller, "here is the coin, text me on 512 555 0100")
        _attach(app, session, msg, 0, _photo(), HOSTILE, "image/jpeg")
        _attach(app, session, msg, 1, b"%PDF-1.4\n%%EOF\n", "invoice.pdf", "application/pdf")
        item = review.open_items_for_findings(session, [finding(session, msg, "phone", "+15125550100").id], app.settings, NOW)[0]
        own = conversation(session, market.staff, user(session, "eve"))
        own_msg = message(session, own, market.staff, "call me 512 555 0101", 70)
        _attach(app, session, own_msg, 0, _photo(), "me.jpg", "image/jpeg")
        own_item = review.open_items_for_findings(session, [finding(session, own_msg, "phone", "x").id], app.settings, NOW)[0]
    who = staff.sign_in(app, "ana@peermetals.com", PASSWORD, "10.0.0.1", NOW)[1]
    return {"item": item, "message": msg.external_id, "own_item": own_item, "own_message": own_msg.external_id, "who": who}


def test_the_item_page_links_photos_by_message_and_position_never_by_name(app, flagged):
    page = console.item_page(app, flagged["who"], flagged["item"], NOW)
    [shown] = [m for m in page.messages if m.attachments]
    photo, pdf = shown.attachments
    assert (photo.message_id, photo.position, photo.name, photo.is_image) == (flagged["message"], 0, HOSTILE, True)
    assert (pdf.position, pdf.is_image) == (1, False)


def test_a_photo_is_served_downscaled_without_exif_and_then_from_the_cache(app, flagged):
    original = _photo()
    served = console.item_photo(app, flagged["who"], flagged["item"], flagged["message"], 0)
    assert served != original and served.startswith(b"\xff\xd8")
    with Image.open(io.BytesIO(served)) as image:
        assert image.format == "JPEG" and max(image.size) == console.PHOTO_SIDE and image.size == (480, 320)
        assert not image.getexif() and "exif" not in image.info
    # The prepared copy is cached: with the original gone, the same bytes are served.
    digest = hashlib.sha256(original).hexdigest()
    app.blobs.path_for(digest).unlink()
    assert console.item_photo(app, flagged["who"], flagged["item"], flagged["message"], 0) == served
    cached = list((app.settings.data_dir / "cache" / "transcript-images").rglob("*.jpg"))
    assert [p.name for p in cached] == [f"{digest}-480-jpeg.jpg"]  # named by hash, never by the sender's file name


def test_what_is_not_a_photo_of_this_conversation_is_not_served(app, flagged):
    who, item = flagged["who"], flagged["item"]
    with pytest.raises(console.PhotoNotShown, match="not a photo"):
        console.item_photo(app, who, item, flagged["message"], 1)  # the PDF
    with pytest.raises(console.PhotoNotShown):
        console.item_photo(app, who, item, flagged["message"], 7)
    with pytest.raises(console.PhotoNotShown):
        console.item_photo(app, who, item, flagged["own_message"], 0)  # another conversation's photo
    with pytest.raises(console.OwnAccount):
        console.item_photo(app, who, flagged["own_item"], flagged["own_message"], 0)


def test_a_tampered_or_missing_original_is_refused(app, flagged):
    who, item = flagged["who"], flagged["item"]
    path = app.blobs.path_for(hashlib.sha256(_photo()).hexdigest())
    path.write_bytes(_photo(100, 100))
    with pytest.raises(console.PhotoNotShown, match="SHA-256"):
        console.item_photo(app, who, item, flagged["message"], 0)
    path.unlink()
    with pytest.raises(console.PhotoNotShown, match="missing"):
        console.item_photo(app, who, item, flagged["message"], 0)
