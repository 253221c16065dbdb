"""The appendix draws each photo in which contact details were read, with the regions outlined,
read back from the PDF with pypdf: the rectangle's place on the page relative to the photo's."""

from __future__ import annotations

import io
from dataclasses import replace

import pypdf
import pytest

from pipeline.transcript import AttachmentRegion, chain_head, render_transcript
from tests.transcript.factories import NOW, BlobShelf, conversation, jpeg, message
from usecases.transcript_rendering import render_environment

HEADING = "Where contact details were read in photos"


def _conversation(shelf: BlobShelf, regions: tuple[AttachmentRegion, ...], original_size=(2000, 1000)):
    photo = replace(shelf.add(jpeg(2000, 1000), "card.jpg", "image/jpeg"), regions=regions, original_size=original_size)
    return conversation([message(0, "Is it still available?"), message(1, "Here is my card", attachments=[photo])])


def _drawn(pdf: bytes) -> tuple[str, list[tuple[bytes, list[float], list[float]]]]:
    """The text and the image placements and rectangles (operator, operands, matrix) of the last page."""
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[-1]
    ops: list[tuple[bytes, list[float], list[float]]] = []

    def before(op, args, cm, tm):
        if op in (b"re", b"Do"):
            ops.append((op, [float(a) if isinstance(a, (int, float)) else 0.0 for a in args], list(cm)))

    return page.extract_text(visitor_operand_before=before).replace("\x00", ""), ops


@pytest.fixture(scope="module")
def outlined(tmp_path_factory):
    shelf = BlobShelf()
    # A phone number read at 500..1500 × 250..500 of the 2000 × 1000 original, an e-mail off the photo.
    regions = (AttachmentRegion("phone", 0, (500, 250, 1500, 500)), AttachmentRegion("email", 0, (2500, 10, 2600, 20)))
    conv = _conversation(shelf, regions)
    environment = render_environment(shelf.read, tmp_path_factory.mktemp("cache"))
    return conv, render_transcript(conv, now=NOW, environment=environment)


def test_the_appendix_outlines_the_region_on_the_photo(outlined) -> None:
    text, ops = _drawn(outlined[1].pdf)
    assert HEADING in text and "card.jpg: phone read in the outlined region." in text
    # The appendix photo: the last image placed (a 2:1 unit square mapped onto the page).
    _, _, (width, _, _, height, left, bottom) = [op for op in ops if op[0] == b"Do"][-1]
    assert width == pytest.approx(2 * height, rel=0.01)
    rectangles = [(args, cm) for op, args, cm in ops if op == b"re" and cm[0] < 0.5]  # drawn in the photo's pixels
    assert len(rectangles) == 1  # the e-mail's region lies outside the photo: not drawn
    (x, y, w, h), (a, _, _, d, e, f) = rectangles[0]
    page_left, page_right = e + a * x, e + a * (x + w)
    page_top, page_bottom = f + d * y, f + d * (y + h)
    top = bottom + height
    assert (page_left - left) / width == pytest.approx(0.25, abs=0.005)
    assert (page_right - left) / width == pytest.approx(0.75, abs=0.005)
    assert (top - page_top) / height == pytest.approx(0.25, abs=0.005)
    assert (top - page_bottom) / height == pytest.approx(0.50, abs=0.005)


def test_regions_do_not_change_the_chained_record(outlined) -> None:
    conv, rendered = outlined
    plain = replace(conv, messages=tuple(replace(m, attachments=tuple(replace(a, regions=(), original_size=None)
                                                                      for a in m.attachments)) for m in conv.messages))
    assert rendered.chain_head == chain_head(plain) == chain_head(conv)


def test_without_regions_or_the_original_size_there_is_no_outlined_photo(tmp_path) -> None:
    shelf = BlobShelf()
    conv = _conversation(shelf, (AttachmentRegion("phone", 0, (500, 250, 1500, 500)),), original_size=None)
    text, ops = _drawn(render_transcript(conv, now=NOW, environment=render_environment(shelf.read, tmp_path)).pdf)
    assert HEADING not in text and not [op for op in ops if op[0] == b"re" and op[2][0] < 0.5]
