"""The joiner lets go of each part once it is copied, so joining does not grow with every part held.

On a 10,000-message transcript the joining process kept all 40 parts open until the save (qpdf
read copied streams from them then) and reached 356 MB, against about 70 MB for a render worker.
"""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime

import pikepdf
import pytest

from pipeline.transcript import pdfjoin
from pipeline.transcript.parts import render_glyph_sheet


def _part(number: int) -> bytes:
    import weasyprint

    body = "".join(f"<p>Part {number} line {line}</p>" for line in range(60))
    return weasyprint.HTML(string=f"<html lang='en'><body>{body}</body></html>").write_pdf(pdf_tags=True)


def test_each_part_is_released_before_the_next_is_joined(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = [_part(number) for number in range(4)]
    opened: list[pikepdf.Pdf] = []
    original = pikepdf.Pdf.open

    def recording_open(*args: object, **kwargs: object) -> pikepdf.Pdf:
        pdf = original(*args, **kwargs)
        opened.append(pdf)
        return pdf

    monkeypatch.setattr(pdfjoin.Pdf, "open", recording_open)
    held_when_asked: list[list[int]] = []

    def arriving():
        for data in parts:
            # opened[0] is the glyph sheet, kept for the footer font; opened[1:] are the parts.
            # getrefcount sees the list's reference and its own argument: 2 means nobody else holds it.
            held_when_asked.append([index - 1 for index in range(1, len(opened)) if sys.getrefcount(opened[index]) > 2])
            yield data

    pdf, pages = pdfjoin.join_parts(arriving(), render_glyph_sheet(), (), datetime(2026, 1, 2, tzinfo=UTC))

    assert held_when_asked == [[], [], [], []]
    joined = pikepdf.Pdf.open(io.BytesIO(pdf))
    assert pages == len(joined.pages) == sum(len(pikepdf.Pdf.open(io.BytesIO(part)).pages) for part in parts)
    # Every copied stream still has its data, though its part was closed before the save.
    per_part = [len(pikepdf.Pdf.open(io.BytesIO(part)).pages) for part in parts]
    first = 0
    for number, count in enumerate(per_part):
        source = pikepdf.Pdf.open(io.BytesIO(parts[number]))
        for offset in range(count):
            copied = joined.pages[first + offset]
            contents = copied.obj.Contents
            streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
            original_stream = source.pages[offset].obj.Contents
            # The joiner wraps WeasyPrint's stream between its "q" and its overlay; the middle one is the part's.
            assert streams[1].read_bytes() == original_stream.read_bytes()
        first += count
