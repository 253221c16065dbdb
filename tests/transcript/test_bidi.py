"""Right-to-left messages (Arabic, Hebrew) start at the right margin, with a direction WeasyPrint supports."""

from __future__ import annotations

import io
import logging

import pypdf
import pytest

from pipeline.transcript import chain_links
from pipeline.transcript.document import (
    DocumentFacts,
    part_html,
    stylesheet_text,
    template_environment,
    text_direction,
)
from pipeline.transcript.parts import PartJob, render_part
from tests.transcript.factories import NOW, conversation, message

ARABIC = "مرحبا، هل العملة متاحة؟"
HEBREW = "שלום, המטבע עדיין זמין?"
ENGLISH = "Is the Maple Leaf still available?"


@pytest.mark.parametrize(("text", "direction"), [
    (ARABIC, "rtl"), (HEBREW, "rtl"), (ENGLISH, "ltr"), ("", "ltr"), ("123 — ?!", "ltr"),
    ("1,850 $ " + HEBREW, "rtl"),  # digits and symbols are weak: the first strong letter decides
    ("PCGS MS70 " + ARABIC, "ltr"), ("\u200f" + ENGLISH, "rtl"),  # a right-to-left mark is strong
])
def test_direction_comes_from_the_first_strong_character(text: str, direction: str) -> None:
    assert text_direction(text) == direction


def _render_in_process(bodies: list[str]) -> bytes:
    talk = conversation([message(i, body) for i, body in enumerate(bodies)])
    facts = DocumentFacts(talk, chain_links(talk), NOW, "test", False, len(bodies), ())
    html = part_html(template_environment(None), facts, list(enumerate(talk.messages)), True, True, None)
    return render_part(PartJob(html=html, css=stylesheet_text(None), served={}, token="t"), {}).pdf


def _leftmost_x(pdf: bytes, needle: str) -> float:
    """The smallest x at which text containing ``needle`` (in either order) is drawn."""
    found: list[float] = []

    def visit(text: str, cm, tm, font_dict, font_size) -> None:
        if needle in text or needle[::-1] in text:
            found.append(tm[4] * cm[0] + cm[4])

    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visit)
    assert found, f"{needle!r} not drawn"
    return min(found)


def test_rtl_bodies_are_right_aligned_and_weasyprint_ignores_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = _render_in_process([ENGLISH, ARABIC, HEBREW])
    ignored = [r.getMessage() for r in caplog.records if "gnored" in r.getMessage() or "bidi" in r.getMessage()]
    assert not ignored, ignored
    left_margin = _leftmost_x(pdf, "Maple Leaf")
    # A4 is 595 pt wide with 16 mm (45 pt) margins: a short right-to-left line starts well past the middle.
    assert left_margin < 100
    for word in ("العملة", "המטבע"):
        assert _leftmost_x(pdf, word) > 300, word
