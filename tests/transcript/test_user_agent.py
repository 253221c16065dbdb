"""Our short user-agent stylesheet lays every box out exactly where WeasyPrint's HTML5 one does.

``pipeline.transcript.parts`` renders with a user-agent sheet holding only the rules for the
elements our templates use (the cascade is cheaper). These tests capture the real parts of a
transcript that uses every template element (terms table, day headings, findings, a
right-to-left body, a long body cut into pieces, a photo, a text attachment, an evidence gap, the
appendix and its table) and lay each part out with both sheets: same pages, same boxes, same
places and sizes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import weasyprint

from pipeline.transcript import TranscriptOptions, render_transcript
from pipeline.transcript.fetcher import SCHEME, TranscriptURLFetcher
from pipeline.transcript.parts import PartJob, PartResult, render_part, transcript_html_class
from storage.image_cache import read_prepared
from tests.transcript.factories import NOW, BlobShelf, conversation, finding, jpeg, message
from usecases.transcript_rendering import render_environment


class _Recorder:
    """Part workers that render in this process and keep every job."""

    def __init__(self, workers: int, time_limit: float) -> None:
        self.jobs: list[PartJob] = []
        _Recorder.last = self

    def __enter__(self) -> _Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit_glyph_sheet(self) -> str:
        return "glyphs"

    def submit(self, job: PartJob) -> PartResult:
        self.jobs.append(job)
        return render_part(job, _images(job))

    def result(self, handle: object) -> object:
        if handle == "glyphs":
            from pipeline.transcript.parts import render_glyph_sheet

            return render_glyph_sheet()
        return handle


def _images(job: PartJob) -> dict[str, bytes]:
    return {url: read_prepared(ref) for url, ref in job.served.items()}


def _parts(tmp_path: Path, **options) -> list[PartJob]:
    shelf = BlobShelf()
    photo = shelf.add(jpeg(1200, 900), "scale.jpg", "image/jpeg")
    notes = shelf.add("Invoice 17\nItem: 1 oz Maple Leaf\nTotal: $1,850.00\n".encode(), "invoice.txt", "text/plain")
    offer = "I can pay $1,800 for the 2 Maple Leafs, call me on +1 555 0100"
    messages = [message(i, f"Routine message {i} about the coin.", minutes=200 * i) for i in range(170)]
    messages[3] = message(3, offer, findings=[finding(offer, "+1 555 0100")], minutes=600)
    messages[4] = message(4, "Deal, $1,800 it is. Shipped tomorrow, MS70 graded.", minutes=800)
    messages[5] = message(5, "مرحبا، هل العملة متاحة؟ 2 coins", minutes=1000)
    messages[6] = message(6, "x" * 2500 + " and  spaces\n kept", minutes=1200)
    messages[90] = message(90, "Photo and invoice attached", attachments=[photo, notes], minutes=200 * 90)
    environment = replace(render_environment(shelf.read, tmp_path), start_workers=_Recorder)
    render_transcript(conversation(messages), now=NOW, environment=environment,
                      options=TranscriptOptions(workers=1, **options))
    return _Recorder.last.jobs


def _boxes(job: PartJob, document_class: type) -> list[tuple]:
    fetcher = TranscriptURLFetcher(_images(job))
    base_url = f"{SCHEME}://{job.token}/"
    stylesheet = weasyprint.CSS(string=job.css, url_fetcher=fetcher, base_url=base_url)
    document = document_class(string=job.html, base_url=base_url, url_fetcher=fetcher).render(stylesheets=[stylesheet])
    laid_out = []
    for number, page in enumerate(document.pages):
        for box in page._page_box.descendants():
            laid_out.append((number, type(box).__name__, getattr(box, "element_tag", None),
                             round(box.position_x, 2), round(box.position_y, 2),
                             round(box.width or 0, 2), round(box.height or 0, 2),
                             getattr(box, "text", None)))
    return laid_out


@pytest.mark.parametrize("evidence", [False, True], ids=["full", "evidence"])
def test_our_user_agent_sheet_lays_out_like_weasyprints(tmp_path: Path, evidence: bool) -> None:
    options = {"evidence": True, "context_messages": 1} if evidence else {}
    jobs = _parts(tmp_path, **options)
    assert len(jobs) >= (1 if evidence else 2)
    html = "".join(job.html for job in jobs)
    assert "<mark>" in html and "<table>" in html and ("not shown in this excerpt" in html) == evidence
    if not evidence:
        assert 'dir="rtl"' in html and "<img" in html and 'class="text-preview"' in html
    for job in jobs:
        ours, theirs = _boxes(job, transcript_html_class()), _boxes(job, weasyprint.HTML)
        assert len(ours) > 100
        assert ours == theirs
