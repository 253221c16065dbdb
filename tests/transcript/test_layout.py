"""What a dispute handler reads: omitted ranges, evidence counts, text attachments, running headers, photos."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pypdf
import pytest

from pipeline.transcript import TranscriptOptions, render_transcript
from pipeline.transcript.attachments import text_preview
from tests.transcript.factories import NOW, BlobShelf, conversation, finding, jpeg, message

TIME = re.compile(r"(\d{4}-\d\d-\d\d) \d\d:\d\d:\d\d UTC · seller local")


def _render(conv, tmp_path: Path, shelf: BlobShelf, **options) -> bytes:
    from usecases.transcript_rendering import render_environment

    return render_transcript(conv, now=NOW, environment=render_environment(shelf.read, tmp_path),
                             options=TranscriptOptions(**options)).pdf


def _pages(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture(scope="module")
def evidence(tmp_path_factory) -> tuple[list[str], BlobShelf]:
    shelf = BlobShelf()
    photo = shelf.add(jpeg(1200, 900), "scale.jpg", "image/jpeg")
    invoice = shelf.add("Invoice 17\nItem: 1 oz Maple Leaf\nTotal: $1,850.00\n".encode(), "invoice.txt", "text/plain")
    messages = [message(i, f"Routine message {i}.") for i in range(60)]
    messages[5] = message(5, "Early photo", attachments=[photo])
    body = "Pay me on Zelle at 555-0100"
    messages[30] = message(30, body, findings=[finding(body, "555-0100")])
    messages[31] = message(31, "The invoice", attachments=[invoice])
    pdf = _render(conversation(messages), tmp_path_factory.mktemp("cache"), shelf, evidence=True, context_messages=1)
    return _pages(pdf), shelf


def test_omitted_ranges_name_their_ids_and_times(evidence) -> None:
    text = " ".join(evidence[0])
    assert "29 messages not shown in this excerpt: msg-00000 (2026-03-01 09:00:00 UTC) to msg-00028 " \
           "(2026-03-03 05:20:00 UTC)" in text
    assert "to msg-00059 (" in text


def test_evidence_counts_and_appendix_agree(evidence) -> None:
    text = " ".join(evidence[0])
    assert "Attachments 2 (1 in the messages shown; all are listed in the appendix)" in text
    appendix = text[text.index("Appendix: attachments"):]
    assert "scale.jpg" in appendix and "message not shown in this excerpt" in appendix
    assert "invoice.txt" in appendix and "No attachments were shared" not in text


def test_text_attachments_are_shown_in_monospace(evidence) -> None:
    text = " ".join(evidence[0])
    assert "invoice.txt" in text and "Total: $1,850.00" in text
    assert text_preview(b"\x00\x01binary") is None and text_preview(b"\xff\xfe") is None
    long = text_preview("\n".join(f"line {i}" for i in range(500)).encode())
    assert long.endswith("(first 120 of 500 lines shown; the file's SHA-256 is listed)") and "line 119" in long


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext comes with poppler-utils (scripts/dev setup)")
def test_running_header_shows_the_day_where_each_page_begins(tmp_path: Path) -> None:
    # Three days of long messages: day changes fall mid-page, the case that printed the wrong day.
    messages = [message(i, f"Message {i}. " + "Weighing and shipping details. " * 8, minutes=360) for i in range(60)]
    pdf = _render(conversation(messages), tmp_path, BlobShelf())
    target = tmp_path / "days.pdf"
    target.write_bytes(pdf)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    previous_day = None
    checked = 0
    for number, page in enumerate(reader.pages, start=1):
        text = " ".join(page.extract_text().split())
        # The running header is the only text in the top 18 mm (51 pt) of the page.
        heading = " ".join(subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), "-x", "0", "-y", "0", "-W", "600", "-H", "50", "-r", "72",
             str(target), "-"], capture_output=True, text=True, check=True, timeout=60).stdout.split())
        first = TIME.search(text)
        # The day in force where the page begins: the previous page's last message, unless the
        # page opens with a new day's heading.
        if first is not None and previous_day is not None:
            starts_with_heading = re.match(r".*?Transcript of conversation conv-42 \w+day \d\d \w+ \d{4} \(UTC\)", text)
            expected = {previous_day, _label(first.group(1))} if starts_with_heading else {previous_day}
            assert any(label in heading for label in expected), (heading, expected)
            checked += 1
        days = TIME.findall(text)
        previous_day = _label(days[-1]) if days else previous_day
    assert checked >= 5


def _label(day: str) -> str:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).strftime("%A %d %B %Y (UTC)")


def test_photos_do_not_leave_half_pages_blank(tmp_path: Path) -> None:
    shelf = BlobShelf()
    photos = [shelf.add(jpeg(1600, 1200, color=(10 * i, 40, 40)), f"p{i}.jpg", "image/jpeg") for i in range(6)]
    messages = [message(0, "Six photos of the coin", attachments=photos), message(1, "Thanks")]
    pdf = _render(conversation(messages), tmp_path, shelf)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    # Six 4:3 photos at 110 mm high at most fit two a page: one message must not need a page per photo.
    assert len(reader.pages) <= 4, len(reader.pages)
