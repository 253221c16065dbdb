"""Each message's chain link line is drawn by the joiner where WeasyPrint would have laid it out.

The message block reserves the line (bottom padding) and the render reports where each block
landed; the joiner draws "link HEX" there as tagged text. These tests lay the same parts out the
former way (a ``<p class="link">`` paragraph at the end of each message) and require the same pages,
the same places for every other box, and each stamped line at the former line's baseline; then
they check the joined PDF: every link printed on its message's page, in the glyph sheet's font, and
tagged as a P element closing its message's Art element.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pikepdf
import pypdf
import pytest
import weasyprint

from pipeline.transcript import TranscriptOptions, chain_links, render_transcript
from pipeline.transcript.fetcher import SCHEME, TranscriptURLFetcher
from pipeline.transcript.parts import PDF_VARIANT, PartJob, link_stamps, transcript_html_class
from tests.transcript.factories import NOW, BlobShelf, conversation, jpeg, message
from tests.transcript.test_user_agent import _images, _parts, _Recorder
from usecases.transcript_rendering import render_environment

FORMER_CSS = ".link { font-size: 6.5pt; color: #666; margin: 0; white-space: pre; }"


def _former(job: PartJob) -> PartJob:
    """The same part as main rendered it before: the link as the last paragraph of each message."""
    html = re.sub(r'<p class="link-line"></p>\n?', "", job.html)
    html, count = re.subn(r'data-link="([0-9a-f]{64})"([^>]*)>(.*?)</article>',
                          r'\2>\3<p class="link">link \1</p>\n</article>', html, flags=re.S)
    assert count == job.html.count("<article")
    return replace(job, html=html, css=job.css + "\n.message, .message.has-files { padding-bottom: 1mm }\n" + FORMER_CSS)


def _document(job: PartJob):
    fetcher = TranscriptURLFetcher(_images(job))
    base_url = f"{SCHEME}://{job.token}/"
    stylesheet = weasyprint.CSS(string=job.css, url_fetcher=fetcher, base_url=base_url)
    html = transcript_html_class()(string=job.html, base_url=base_url, url_fetcher=fetcher)
    return html.render(stylesheets=[stylesheet], pdf_variant=PDF_VARIANT)


def _layout(document, skip_link_lines: bool = True) -> tuple[list[tuple], list[tuple]]:
    """Every box's page, kind, position and text; and the former link lines' text boxes."""
    boxes, lines = [], []
    for number, page in enumerate(document.pages):
        for box in page._page_box.descendants():
            text = getattr(box, "text", None)
            kind = box.element.get("class") if getattr(box, "element", None) is not None else None
            if kind in ("link", "link-line"):
                if text is not None and skip_link_lines:
                    lines.append((number, round(box.position_x * 0.75, 2),
                                  round((box.position_y + box.baseline) * 0.75, 2), text))
                continue
            boxes.append((number, type(box).__name__, getattr(box, "element_tag", None),
                          round(box.position_x, 2), round(box.position_y, 2), round(box.border_width(), 2),
                          text))
    return boxes, lines


def _photo_parts(tmp_path: Path) -> list[PartJob]:
    """A part where photos of several heights end pages, so some link lines go to the next page alone."""
    shelf = BlobShelf()
    messages = []
    for i in range(60):
        photos = [shelf.add(jpeg(800, 300 + 37 * i, color=(i, 90, 160)), f"p{i}.jpg", "image/jpeg")] if i % 3 == 2 else []
        messages.append(message(i, "Photo of the coin. " * (1 + i % 5), attachments=photos, minutes=30 * i))
    environment = replace(render_environment(shelf.read, tmp_path), start_workers=_Recorder)
    render_transcript(conversation(messages), now=NOW, environment=environment, options=TranscriptOptions(workers=1))
    return _Recorder.last.jobs


@pytest.mark.parametrize("kind", ["full", "evidence", "photos"])
def test_links_are_stamped_where_the_layout_put_the_link_paragraph(tmp_path: Path, kind: str) -> None:
    evidence = kind == "evidence"
    if kind == "photos":
        jobs = _photo_parts(tmp_path)
    else:
        jobs = _parts(tmp_path, **({"evidence": True, "context_messages": 1} if evidence else {}))
    alone = 0
    stamped_count = 0
    for job in jobs:
        former_boxes, former_lines = _layout(_document(_former(job)), skip_link_lines=True)
        document = _document(job)
        boxes, _ = _layout(document)
        # Same pages, and every other box at the same place with the same width and text.
        assert boxes == former_boxes
        assert len({box[0] for box in boxes}) == len(document.pages) == len({box[0] for box in former_boxes})
        stamps = [(s.page, round(s.x, 2), round(s.baseline, 2), s.text) for s in link_stamps(document)]
        assert len(former_lines) == job.html.count("<article") > 0
        assert stamps == former_lines
        stamped_count += len(stamps)
        alone += sum(1 for page in document.pages for box in page._page_box.descendants()
                     if getattr(box, "element_tag", None) == "article"
                     and [child.element.get("class") for child in box.children] == ["link-line"])
    if kind == "photos":
        assert alone >= 1, "no link line went to the next page alone: the case is not exercised"
    assert stamped_count >= {"full": 170, "evidence": 3, "photos": 60}[kind]


def _render(tmp_path: Path, messages) -> tuple[bytes, tuple[str, ...]]:
    talk = conversation(messages)
    environment = replace(render_environment(BlobShelf().read, tmp_path), start_workers=_Recorder)
    rendered = render_transcript(talk, now=NOW, environment=environment,
                                 options=TranscriptOptions(workers=1, min_messages_to_split=10, messages_per_part=25))
    return rendered.pdf, chain_links(talk)


def test_every_link_is_printed_on_its_messages_page_and_tagged(tmp_path: Path) -> None:
    messages = [message(i, f"Message number {i}: is the coin still available? " * (1 + i % 7)) for i in range(80)]
    pdf, links = _render(tmp_path, messages)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    texts = [" ".join(page.extract_text().split()) for page in reader.pages]
    assert len(texts) >= 3
    for index, link in enumerate(links):
        pages = [number for number, text in enumerate(texts) if f"message msg-{index:05d}" in text]
        assert len(pages) == 1
        assert f"link {link}" in texts[pages[0]], f"message {index}'s link is not printed on its page"
        assert sum(text.count(f"link {link}") for text in texts) == 1

    with pikepdf.open(io.BytesIO(pdf)) as document:
        tree = document.Root.StructTreeRoot
        nums = tree.ParentTree.Nums
        parents = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
        pages = {page.objgen: page for page in document.pages}
        closing = []

        def walk(kids) -> None:
            for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
                if isinstance(kid, pikepdf.Dictionary) and kid.get("/S") == pikepdf.Name.Art:
                    last = kid.K[len(kid.K) - 1]
                    assert last.S == pikepdf.Name.P and isinstance(last.K, int) and last.P.objgen == kid.objgen
                    page = pages[last.Pg.objgen]
                    # The page's parent tree entry maps the line's MCID back to its P element.
                    assert parents[int(page.StructParents)][int(last.K)].objgen == last.objgen
                    content = b"".join(c.read_bytes() for c in (page.Contents if isinstance(page.Contents, pikepdf.Array)
                                                                   else [page.Contents]))
                    assert f"/P <</MCID {int(last.K)}>> BDC".encode() in content
                    closing.append(last)
                elif isinstance(kid, pikepdf.Dictionary) and "/K" in kid:
                    walk(kid.K)

        walk(tree.K)
        assert len(closing) == len(links) == 80
