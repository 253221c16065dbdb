"""Running headers on every page: the conversation's title, and the UTC day in force where the page begins.

The joiner stamps them after layout (``pdfjoin._header_stream``) when its font holds every
character they print; otherwise WeasyPrint lays them out as margin boxes. Both must say the same
thing, across parts too, and the stamped ones must sit where WeasyPrint's would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest

from pipeline.transcript import TranscriptOptions, render_transcript
from pipeline.transcript.render import laid_out_headers_css
from tests.transcript.factories import NOW, BlobShelf, conversation, message

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                reason="pdftotext comes with poppler-utils (scripts/dev setup)")

TIME = re.compile(r"(\d{4}-\d\d-\d\d) \d\d:\d\d:\d\d UTC · seller local")
HEADING = re.compile(r"^(\w+day \d\d \w+ \d{4} \(UTC\))( \(continued\))?$")
TOP = 51  # pt: the 18 mm top margin, where only the running headers are


def _render(tmp_path: Path, external_id: str) -> Path:
    from usecases.transcript_rendering import render_environment

    # Four days of long messages in parts of 30: day changes and part boundaries fall mid-page,
    # and some part begins at the top of a page in the middle of a day.
    messages = [message(i, f"Message {i}. " + "Weighing and shipping details. " * (4 + i % 7), minutes=170)
                for i in range(130)]
    rendered = render_transcript(
        conversation(messages, external_id=external_id), now=NOW,
        environment=render_environment(BlobShelf().read, tmp_path / "cache"),
        options=TranscriptOptions(messages_per_part=30, min_messages_to_split=40),
    )
    target = tmp_path / f"{external_id}.pdf"
    target.write_bytes(rendered.pdf)
    return target


def _text(pdf: Path, page: int, top: float, height: float) -> list[str]:
    out = subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), "-x", "0", "-y", str(int(top)),
                          "-W", "600", "-H", str(int(height)), "-r", "72", str(pdf), "-"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return [" ".join(line.split()) for line in out.splitlines() if line.strip()]


def _words(pdf: Path, page: int) -> list[tuple[str, float, float]]:
    """Words of a page's top margin with their left edge and bottom, in points from the top left."""
    out = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    tree = ElementTree.fromstring(re.sub(r"<!DOCTYPE[^>]*>", "", out).replace('xmlns="http://www.w3.org/1999/xhtml"', ""))
    return [(word.text or "", float(word.get("xMin")), float(word.get("yMax")))
            for word in tree.iter("word") if float(word.get("yMax")) < TOP]


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True, timeout=60).stdout
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))


def _label(day: str) -> str:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).strftime("%A %d %B %Y (UTC)")


@pytest.mark.parametrize("external_id", ["conv-42", "conv-é42"], ids=["stamped", "laid-out"])
def test_every_page_shows_the_title_and_the_day_where_it_begins(tmp_path: Path, external_id: str) -> None:
    pdf = _render(tmp_path, external_id)
    previous_day = None
    continued_tops = 0
    days_shown = 0
    for number in range(1, _pages(pdf) + 1):
        header = _text(pdf, number, 0, TOP)
        body = _text(pdf, number, TOP, 842 - TOP)
        heading = HEADING.match(body[0]) if body else None
        # The day in force where the page begins: the heading the page opens with, else the last
        # day of the pages before (whichever part they were rendered in); none before the first.
        expected = heading.group(1) if heading else previous_day
        title = f"Transcript of conversation {external_id}"
        assert header == ([f"{title} {expected}"] if expected else [title]), (number, header, body[:2])
        if heading and heading.group(2):
            continued_tops += 1  # a later part begins at the top of this page, mid-day
        days_shown += expected is not None
        days = TIME.findall(" ".join(body))
        previous_day = _label(days[-1]) if days else previous_day
    assert continued_tops >= 1 and days_shown >= 10, (continued_tops, days_shown)


def test_stamped_headers_sit_where_weasyprint_lays_them_out(tmp_path: Path) -> None:
    stamped, laid_out = _render(tmp_path, "conv-42"), _render(tmp_path, "conv-é42")
    assert _pages(stamped) == _pages(laid_out)
    compared = 0
    for number in range(1, _pages(stamped) + 1):
        ours, theirs = _words(stamped, number), _words(laid_out, number)
        assert [w for w, _, _ in ours if w != "conv-42"] == [w for w, _, _ in theirs if w != "conv-é42"]
        for (word, x, bottom), (_, their_x, their_bottom) in zip(ours, theirs, strict=True):
            assert abs(bottom - their_bottom) < 0.3, (number, word, bottom, their_bottom)
            if word in ("Transcript", "(UTC)"):  # the left edge of the title, the right end of the day
                assert abs(x - their_x) < 1.0, (number, word, x, their_x)
                compared += 1
    assert compared >= 20


def test_a_title_the_joiners_font_cannot_draw_is_laid_out_escaped() -> None:
    css = laid_out_headers_css('Transcript of conversation a"}\\b é')
    assert '"' not in css.split("content: ")[1].split(";")[0].strip('"')
    assert "\\22 " in css and "\\7d " in css and "\\5c " in css and "\\e9 " in css
