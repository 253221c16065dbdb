"""Each message's meta line is drawn by the joiner where WeasyPrint would have laid it out.

The message block reserves the line (top padding, or an empty ``p.meta-line`` block when the
message has files) and the render reports where each block landed; the joiner draws the line there
as tagged text, a P element opening the message's Art element. These tests lay the same parts out
the former way (a ``<p class="meta">`` paragraph first in each message) and require the same pages,
the same places for every other box and each stamped line at the former line's baseline; then they
check the joined PDF: the text, its tags, its order in ``pdftotext``, and the laid out fallback
for a name the glyph sheet's font cannot draw or a line that might not fit.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pikepdf
import pytest

from pipeline.transcript import TranscriptOptions, render_transcript
from pipeline.transcript.parts import (
    _ADVANCES,
    META_FONT_SIZE,
    META_MAX_WIDTH,
    PartJob,
    meta_stamps,
    render_glyph_sheet,
    stamped_meta,
)
from pipeline.transcript.pdfjoin import _footer_font
from tests.transcript.factories import NOW, BlobShelf, conversation, jpeg, message
from tests.transcript.test_link_stamps import _document, _photo_parts
from tests.transcript.test_user_agent import _parts, _Recorder
from usecases.transcript_rendering import render_environment

FORMER_CSS = ".meta { font-size: 8pt; color: #333; margin: 0; }"
_OPENING = re.compile(r'<article class="([^"]*)"([^>]*?) data-meta="([^"]*)">\n?(<p class="meta-line"></p>\n?)?')


def _former(job: PartJob) -> PartJob:
    """The same part as main rendered it before: the meta line as the first paragraph of each message."""
    def laid_out(match: re.Match) -> str:
        classes = " ".join(name for name in match.group(1).split() if name != "meta-stamped")
        return f'<article class="{classes}"{match.group(2)}>\n<p class="meta">{match.group(3)}</p>\n'

    page, count = _OPENING.subn(laid_out, job.html)
    assert count == job.html.count("data-meta=")
    return replace(job, html=page)


def _layout(document) -> tuple[list[tuple], list[tuple]]:
    """Every box's page, kind, position and text but the meta lines'; and the meta lines' text boxes."""
    boxes, lines = [], []
    for number, page in enumerate(document.pages):
        for box in page._page_box.descendants():
            text = getattr(box, "text", None)
            kind = box.element.get("class") if getattr(box, "element", None) is not None else None
            if kind in ("meta", "meta-line"):
                if text is not None:
                    lines.append((number, round(box.position_x * 0.75, 2),
                                  round((box.position_y + box.baseline) * 0.75, 2), text))
                continue
            boxes.append((number, type(box).__name__, getattr(box, "element_tag", None),
                          round(box.position_x, 2), round(box.position_y, 2), round(box.border_width(), 2),
                          round(box.border_height(), 2), text))
    return boxes, lines


def _named(index: int, body: str, name: str, **kwargs):
    return replace(message(index, body, **kwargs), sender_name=name)


def _edge_parts(tmp_path: Path) -> list[PartJob]:
    """Names whose meta line just fits the stamping limit, just misses it, or needs another font."""
    shelf = BlobShelf()
    photo = shelf.add(jpeg(800, 500), "coin.jpg", "image/jpeg")
    base = _meta_of(0, "")  # the line but the name, from the space after it
    spare = META_MAX_WIDTH - sum(_ADVANCES[c] for c in base) * META_FONT_SIZE / 2048
    fits = "W" * int(spare / (_ADVANCES["W"] * META_FONT_SIZE / 2048))
    messages = []
    for i in range(40):
        name = [fits, fits + "WW", "Σάμ Παπαδόπουλος", "Sam  Seller ", "R&D <Sales> \"Co\""][i % 5]
        files = [photo] if i % 7 == 3 else []
        messages.append(_named(i, f"Message {i}: the coin. " * (1 + i % 4), name, attachments=files, minutes=45 * i))
    environment = replace(render_environment(shelf.read, tmp_path), start_workers=_Recorder)
    render_transcript(conversation(messages), now=NOW, environment=environment, options=TranscriptOptions(workers=1))
    return _Recorder.last.jobs


def _meta_of(index: int, name: str) -> str:
    """Message ``index``'s meta line in the factory's conversation, for a sender called ``name``."""
    moment = message(index, "").sent_at
    role = message(index, "").sender_role.value
    local = moment.astimezone(ZoneInfo("America/New_York"))
    return (f"{name} ({role}) \u00b7 {moment:%Y-%m-%d %H:%M:%S} UTC \u00b7 seller local "
            f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} \u00b7 message msg-{index:05d}")


@pytest.mark.parametrize("kind", ["full", "evidence", "photos", "edges"])
def test_meta_lines_are_stamped_where_the_layout_put_the_meta_paragraph(tmp_path: Path, kind: str) -> None:
    if kind == "photos":
        jobs = _photo_parts(tmp_path)
    elif kind == "edges":
        jobs = _edge_parts(tmp_path)
    else:
        jobs = _parts(tmp_path, **({"evidence": True, "context_messages": 1} if kind == "evidence" else {}))
    stamped_count = laid_out = 0
    for job in jobs:
        former_boxes, former_lines = _layout(_document(_former(job)))
        document = _document(job)
        boxes, kept_lines = _layout(document)
        # Same pages, and every other box at the same place with the same size and text.
        assert boxes == former_boxes
        assert len(document.pages) == len({box[0] for box in former_boxes})
        stamps = [(s.page, round(s.x, 2), round(s.baseline, 2), s.text) for s in meta_stamps(document)]
        # The lines still laid out are the former ones; the others are stamped on their baseline.
        assert sorted(stamps + kept_lines) == sorted(former_lines)
        assert len(stamps) + job.html.count('<p class="meta">') == job.html.count("<article") > 0
        stamped_count += len(stamps)
        laid_out += job.html.count('<p class="meta">')
    if kind == "edges":
        # The names that fit (with their doubled and trailing spaces collapsed, and markup
        # characters) are stamped; the Greek name and the one 2 W too long (which wraps) are laid out.
        assert stamped_count == 24 and laid_out == 16
    else:
        assert laid_out == 0 and stamped_count >= {"full": 170, "evidence": 3, "photos": 60}[kind]


def test_which_lines_are_stamped() -> None:
    assert stamped_meta(_meta_of(0, " Sam   Seller ")) == _meta_of(0, "Sam Seller")
    assert stamped_meta(_meta_of(0, "Σάμ")) is None
    assert stamped_meta(_meta_of(0, "Sam\tSeller")) is None  # only spaces may collapse
    assert stamped_meta(_meta_of(0, "Sam Seller" * 8)) is None  # might not fit on one line


def test_the_width_table_is_the_glyph_sheets_font() -> None:
    with pikepdf.new() as out:
        font = _footer_font(out, render_glyph_sheet(), [])
        for character, advance in _ADVANCES.items():
            assert abs(font.widths[font.codes[character]] - advance * 1000 / 2048) <= 0.5, character


def _render(tmp_path: Path, messages, shelf: BlobShelf | None = None, **options) -> bytes:
    environment = replace(render_environment((shelf or BlobShelf()).read, tmp_path), start_workers=_Recorder)
    options = {"workers": 1, "min_messages_to_split": 10, "messages_per_part": 25, **options}
    return render_transcript(conversation(messages), now=NOW, environment=environment,
                             options=TranscriptOptions(**options)).pdf


def _openings(pdf: bytes) -> list[tuple[str, bytes]]:
    """Each message's first structure element: its type and the content its marked content drew."""
    found = []
    with pikepdf.open(io.BytesIO(pdf)) as document:
        tree = document.Root.StructTreeRoot
        nums = tree.ParentTree.Nums
        parents = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
        pages = {page.objgen: page for page in document.pages}

        def walk(kids) -> None:
            for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
                if isinstance(kid, pikepdf.Dictionary) and kid.get("/S") == pikepdf.Name.Art:
                    first = kid.K[0]
                    assert first.S == pikepdf.Name.P and first.P.objgen == kid.objgen
                    # A stamped line is the P element's own marked content; a laid out one a Span's.
                    holder = first
                    while isinstance(holder.K, pikepdf.Array) and isinstance(holder.K[0], pikepdf.Dictionary):
                        holder = holder.K[0]
                    mcid = int(holder.K[0]) if isinstance(holder.K, pikepdf.Array) else int(holder.K)
                    page = pages[first.Pg.objgen]
                    # The page's parent tree entry maps the line's MCID back to its element.
                    assert parents[int(page.StructParents)][mcid].objgen == holder.objgen
                    contents = page.Contents if isinstance(page.Contents, pikepdf.Array) else [page.Contents]
                    content = b"".join(c.read_bytes() for c in contents)
                    marked = re.search(rb"/\w+\s*<</MCID %d>>\s*BDC(.*?)EMC" % mcid, content, re.S)
                    assert marked is not None
                    found.append((str(first.S), marked.group(1)))
                elif isinstance(kid, pikepdf.Dictionary) and "/K" in kid:
                    walk(kid.K)

        walk(tree.K)
    return found


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext comes with poppler-utils (scripts/dev setup)")
def test_meta_lines_are_drawn_by_the_joiner_tagged_first_and_read_before_their_body(tmp_path: Path) -> None:
    messages = [message(i, f"Body number {i}: is the coin still available? " * (1 + i % 7)) for i in range(80)]
    messages[41] = _named(41, "Body number 41: Greek sender.", "Σάμ Παπαδόπουλος")
    shelf = BlobShelf()
    # A message with files reserves its meta line as an empty block, whose P element the line fills.
    messages[20] = message(20, "Body number 20: photo.", attachments=[shelf.add(jpeg(600, 400), "c.jpg", "image/jpeg")])
    pdf = _render(tmp_path, messages, shelf)
    openings = _openings(pdf)
    assert len(openings) == 80
    for index, (_, drawn) in enumerate(openings):
        # Drawn after layout in the glyph sheet's font at 8 pt, #333 (on main WeasyPrint drew it);
        # the Greek name's line is laid out by WeasyPrint.
        assert (b"/PGFooter 8 Tf" in drawn and b"0.2000 g" in drawn) == (index != 41), index
    target = tmp_path / "t.pdf"
    target.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True, check=True).stdout
    text = " ".join(text.split())
    position = 0
    for index in range(80):
        name = "Σάμ Παπαδόπουλος" if index == 41 else ("Sam Seller" if index % 2 == 0 else "Bea Buyer")
        meta = " ".join(_meta_of(index, name).split())
        found = text.find(meta, position)
        assert found >= 0, f"message {index}'s meta line is not printed (in order)"
        body = text.find(f"Body number {index}:", found)
        assert body > found and text.find("seller local", found + len(meta), body) < 0, index
        position = body
