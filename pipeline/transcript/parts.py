"""Rendering one part of a transcript with WeasyPrint (pure: HTML and image bytes in, PDF bytes out)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache

# WeasyPrint is imported inside the functions: the render workers preload it, and the parent
# process, which only builds and submits jobs, never pays for importing it.

PDF_VARIANT = "pdf/ua-1"
# The user-agent stylesheet for transcripts: the rules of WeasyPrint's HTML5 one (html5_ua.css)
# for the elements our templates use, and nothing else. WeasyPrint's cascade tries every UA rule
# keyed on an attribute or pseudo-class ([dir], :link, [hidden], form fields…) on every element;
# keyed by tag, each rule here is only tried on its own elements. Our stylesheet overrides every
# margin and padding these set on the elements we print, so pages come out the same
# (tests/transcript/test_user_agent.py compares a render with WeasyPrint's sheet, page by page).
# Links, anchors and languages come from attributes, not from this sheet.
TRANSCRIPT_UA_CSS = """
head, title, meta, style, script, link, template, [hidden] { display: none }
html, body, article, section, div, p, h1, h2, h3, dl, dt, dd, ul, ol, figure, figcaption, pre { display: block }
li { display: list-item }
table { display: table; border-spacing: 2px; border-collapse: separate; box-sizing: border-box; text-indent: initial;
        border-color: gray }
caption { display: table-caption }
colgroup { display: table-column-group }
col { display: table-column }
thead { display: table-header-group; vertical-align: middle; border-color: inherit }
tbody { display: table-row-group; vertical-align: middle; border-color: inherit }
tfoot { display: table-footer-group; vertical-align: middle; border-color: inherit }
tr { display: table-row; vertical-align: inherit; border-color: inherit }
td { display: table-cell; padding: 1px; vertical-align: inherit; border-color: gray }
th { display: table-cell; padding: 1px; vertical-align: inherit; border-color: gray; font-weight: bold }
p, dl, ul, ol, pre, figure { margin-top: 1em; margin-bottom: 1em }
figure { margin-left: 40px; margin-right: 40px }
dd { margin-left: 40px }
ul, ol { padding-left: 40px; counter-reset: list-item; break-before: avoid }
ul { list-style-type: disc }
ol { list-style-type: decimal }
ul ul { list-style-type: circle }
li::marker { font-variant-numeric: tabular-nums; white-space: pre; text-transform: none }
h1 { font-size: 2em; margin-top: .67em; margin-bottom: .67em; bookmark-level: 1 }
h2 { font-size: 1.5em; margin-top: .83em; margin-bottom: .83em; bookmark-level: 2 }
h3 { font-size: 1.17em; margin-top: 1em; margin-bottom: 1em; bookmark-level: 3 }
h1, h2, h3 { font-weight: bold; bookmark-label: content(text); hyphens: manual; break-after: avoid; break-inside: avoid }
br::before { content: "\\A"; white-space: pre-line }
b, strong { font-weight: bold }
em, i { font-style: italic }
pre { white-space: pre; font-family: monospace }
a[href] { color: blue; text-decoration: underline }
mark { background: yellow; color: black }
img, svg { overflow: hidden }
p[dir=rtl] { direction: rtl }
p[dir=ltr] { direction: ltr }
@page {
  margin: 75px;
  @top-left { text-align: left; vertical-align: middle }
  @top-center { text-align: center; vertical-align: middle }
  @top-right { text-align: right; vertical-align: middle }
  @bottom-left { text-align: left; vertical-align: middle }
  @bottom-center { text-align: center; vertical-align: middle }
  @bottom-right { text-align: right; vertical-align: middle }
}
"""
# Characters the joiner can draw from the glyph sheet's font: printable ASCII and the middle dot
# of the meta lines. Running headers ("Transcript of conversation ID", the UTC day) and each
# message's meta line are stamped by the joiner when every character they print is one of these
# (or a space); otherwise WeasyPrint lays them out.
GLYPH_CHARACTERS = "".join(chr(code) for code in range(0x21, 0x7F)) + "\u00b7"
# The glyph sheet's words hold every character of "Page X of Y" footers and of "link HEX" chain
# links, then each printable ASCII character alone; the lone characters are spaced so that no
# pair can be shaped into a ligature.
GLYPH_SHEET_HTML = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>glyphs</title></head>'
    '<body><p style="font: 8pt \'DejaVu Sans\', sans-serif">Page 0123456789 of link a b c d e f '
    + " ".join(GLYPH_CHARACTERS).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    + '</p></body></html>'
)
# Each message's chain link ("link " and 64 hex digits) is not laid out by WeasyPrint: the message
# block reserves one line for it at its bottom (transcript.css: ``.message`` padding-bottom is
# ``LINK_MARGIN`` + ``LINK_LINE_HEIGHT``) and carries the link in ``data-link``; the render finds
# where each block landed and the joiner draws the line there as tagged text (a P element at the end
# of the message's Art element) in the glyph sheet's font. Laying the line out and drawing it glyph
# by glyph was about a fifth of a part's CPU (docs/benchmarks.md, branch s6-transcript).
LINK_FONT_SIZE = 6.5  # pt, as the former ``.link`` paragraph
LINK_LINE_HEIGHT = 1.35 * LINK_FONT_SIZE  # pt: one line at the stylesheet's line-height
LINK_MARGIN = 72 / 25.4  # pt: the message block's own 1 mm bottom padding below the line
# DejaVu Sans' ascent and descent (hhea, units per em 2048), which place the baseline in the line
# as WeasyPrint's layout would (tests/transcript/test_link_stamps.py compares with a real layout).
_ASCENT, _DESCENT = 1901 / 2048, 483 / 2048
LINK_BASELINE = (LINK_LINE_HEIGHT - (_ASCENT + _DESCENT) * LINK_FONT_SIZE) / 2 + _ASCENT * LINK_FONT_SIZE
_PX = 0.75  # pt per CSS px
# Each message's meta line ("NAME (ROLE) · UTC time UTC · seller local TIME · message ID") is drawn
# by the joiner too, the same way: the message block reserves the line at its top (transcript.css:
# ``.message.meta-stamped`` padding-top is 1 mm + ``META_LINE_HEIGHT``; a message with files keeps an
# empty ``p.meta-line`` block of that height instead, since its block may break after the line),
# carries the text in ``data-meta``, and the joiner draws it as a P element opening the message's
# Art element. Laid out, the line's block, line box and structure element were about 18 % of a
# part's CPU (docs/benchmarks.md, s8-casea). A line with a character the glyph sheet lacks, or one
# that might not fit on one line, stays a laid out ``p.meta`` paragraph (``stamped_meta``).
META_FONT_SIZE = 8.0  # pt, as the ``.meta`` paragraph
META_LINE_HEIGHT = 1.35 * META_FONT_SIZE  # pt
META_BASELINE = (META_LINE_HEIGHT - (_ASCENT + _DESCENT) * META_FONT_SIZE) / 2 + _ASCENT * META_FONT_SIZE
# The message block's content width (A4 less the page's 16 mm sides, the block's 2pt border and
# 3 mm padding), less a margin for Pango's kerning, which the joiner does not apply.
META_MAX_WIDTH = (210 - 2 * 16 - 3) * 72 / 25.4 - 2 - 12
# DejaVu Sans' advance widths (hmtx, units per em 2048) of the space, printable ASCII and "·", in
# that order; tests/transcript/test_meta_stamps.py checks them against the glyph sheet's font.
_ADVANCES = dict(zip(" " + GLYPH_CHARACTERS, (
    651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303,
    1303, 1303, 1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577,
    1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401,
    2025, 1403, 1251, 1403, 799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298,
    569, 569, 1186, 569, 1995, 1298, 1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075,
    1303, 690, 1303, 1716, 651,
), strict=True))


def stamped_meta(text: str) -> str | None:
    """The meta line as the joiner would draw it, or None when WeasyPrint must lay it out.

    The joiner draws it when the glyph sheet holds every character and the line surely fits on
    one line; spaces collapse as in the layout (only spaces can be among the characters then).
    """
    if not all(character in _ADVANCES for character in text):
        return None
    line = " ".join(text.split())
    if sum(_ADVANCES[character] for character in line) * META_FONT_SIZE / 2048 > META_MAX_WIDTH:
        return None
    return line


@dataclass(frozen=True)
class PartJob:
    """Everything a worker needs to render one part: HTML, our CSS and where its images are kept."""

    html: str
    css: str
    # Each image URL of this part mapped to the image cache's reference for it: references, not
    # bytes, keep the job small to send, and the worker loads the bytes for ``render_part``.
    served: dict[str, str]
    token: str
    # The joiner stamps the running headers: report each page's day headings (``page_days``).
    stamp_headers: bool = False


@dataclass(frozen=True)
class LinkStamp:
    """Where the joiner draws one message's chain link line (or meta line), in PDF points of its part's page."""

    page: int  # page index in the part
    article: int  # which message block (Art element) of that page, counted in tree order
    x: float  # from the page's left edge
    baseline: float  # from the page's top edge
    text: str
    # The line is an empty p.link-line (p.meta-line) block, whose (empty) P element the line
    # fills; otherwise the line gets a P element of its own at the end (start) of the message's
    # Art element.
    placeholder: bool = False


@dataclass(frozen=True)
class PageDays:
    """The UTC day headings of one page, for its running header (``string(day-title, start)``).

    ``start`` is the day of the heading the page begins with (the first box of the page's
    first-child chain is that heading), ``last`` the last heading on the page; either may be None.
    """

    start: str | None
    last: str | None


@dataclass(frozen=True)
class PartResult:
    """A rendered part, the chain link lines to draw on it and the URLs the fetcher refused."""

    pdf: bytes
    refused: tuple[str, ...]
    links: tuple[LinkStamp, ...] = ()
    # Per page, the day headings its running header is worked out from (empty when WeasyPrint
    # laid the headers out itself).
    days: tuple[PageDays, ...] = ()
    # The meta lines to draw, one per message block whose line was not laid out.
    metas: tuple[LinkStamp, ...] = ()


def render_part(job: PartJob, images: Mapping[str, bytes]) -> PartResult:
    """Render one part to a tagged PDF through a fetcher that serves only ``images`` (URL to JPEG bytes)."""
    import weasyprint

    from pipeline.transcript.fetcher import SCHEME, TranscriptURLFetcher

    fetcher = TranscriptURLFetcher(images)
    # The base URL is our opaque scheme, so any relative reference resolves to a refused URL.
    base_url = f"{SCHEME}://{job.token}/"
    stylesheet = weasyprint.CSS(string=job.css, url_fetcher=fetcher, base_url=base_url)
    html = transcript_html_class()(string=job.html, base_url=base_url, url_fetcher=fetcher)
    document = html.render(stylesheets=[stylesheet], pdf_variant=PDF_VARIANT)
    links = link_stamps(document)
    days = page_days(document) if job.stamp_headers else ()
    metas = meta_stamps(document)
    pdf = document.write_pdf(pdf_variant=PDF_VARIANT)
    return PartResult(pdf=pdf, refused=tuple(fetcher.refused), links=links, days=days, metas=metas)


def page_days(document) -> tuple[PageDays, ...]:
    """Each page's day headings (``h2[data-day]``), as CSS ``string(day-title, start)`` reads them.

    As WeasyPrint resolves ``start``: a page begins with a heading when the heading is on the
    chain of first children from the page box down; the day carried over is the last heading of
    an earlier page (the joiner carries it across parts too).
    """
    result = []
    for page in document.pages:
        start, box = None, page._page_box
        while getattr(box, "children", None):
            box = box.children[0]
            if box.element_tag == "h2" and box.element is not None:
                start = box.element.get("data-day")
                break
        headings = list(_day_headings(page._page_box))
        result.append(PageDays(start, headings[-1] if headings else None))
    return tuple(result)


# Boxes that may hold day headings; headings are direct children of ``section.day``.
_HEADING_CONTAINERS = frozenset({"html", "body", "section"})


def _day_headings(box) -> Iterator[str]:
    for child in getattr(box, "children", ()):
        tag = child.element_tag
        if tag == "h2" and child.element is not None and child.element.get("data-day"):
            yield child.element.get("data-day")
        elif tag in _HEADING_CONTAINERS:
            yield from _day_headings(child)


def link_stamps(document) -> tuple[LinkStamp, ...]:
    """Find the line each message block reserved for its chain link, page by page.

    A block reserves the line in its bottom padding, which a block broken across pages keeps on
    its last piece only; a block with files (which may break anywhere) reserves it as an empty
    ``p.link-line`` block, which may go to the next page alone. Blocks are counted in the order
    WeasyPrint's tagging walks the boxes, which is the order of the page's Art elements.
    """
    stamps: list[LinkStamp] = []
    for number, page in enumerate(document.pages):
        for ordinal, box in enumerate(_articles(page._page_box)):
            link = box.element.get("data-link")
            if not link:
                continue
            if "has-files" in box.element.get("class", "").split():
                line = next((child for child in box.children if child.element_tag == "p"
                             and child.element.get("class") == "link-line"), None)
                if line is None:
                    continue  # on the block's next page
                top, x, placeholder = line.content_box_y(), line.content_box_x(), True
            elif box.padding_bottom > 0:
                top, x, placeholder = box.content_box_y() + box.height, box.content_box_x(), False
            else:
                continue
            stamps.append(LinkStamp(number, ordinal, x * _PX, top * _PX + LINK_BASELINE, f"link {link}", placeholder))
    return tuple(stamps)


def meta_stamps(document) -> tuple[LinkStamp, ...]:
    """Find the line each message block reserved at its top for its meta line, page by page.

    A block reserves it in its top padding, which a block broken across pages keeps on its first
    piece only; a block with files reserves it as an empty ``p.meta-line`` first child, so the
    line may end a page alone as a laid out line would. Blocks are counted as in ``link_stamps``.
    """
    stamps: list[LinkStamp] = []
    for number, page in enumerate(document.pages):
        for ordinal, box in enumerate(_articles(page._page_box)):
            meta = box.element.get("data-meta")
            if not meta:
                continue
            if "has-files" in box.element.get("class", "").split():
                line = box.children[0] if box.children else None
                if line is None or line.element_tag != "p" or line.element.get("class") != "meta-line":
                    continue  # on the block's previous page
                top, x, placeholder = line.content_box_y(), line.content_box_x(), True
            elif box.padding_top > 0:
                top, x, placeholder = box.content_box_y() - META_LINE_HEIGHT / _PX, box.content_box_x(), False
            else:
                continue
            stamps.append(LinkStamp(number, ordinal, x * _PX, top * _PX + META_BASELINE, meta, placeholder))
    return tuple(stamps)


def _articles(box) -> Iterator:
    if getattr(box, "_box", None) is not None:  # an absolutely positioned box's placeholder
        box = box._box
    if box.element_tag == "article" and box.element is not None:
        yield box
        return
    for child in getattr(box, "children", ()):
        yield from _articles(child)


@cache
def transcript_html_class() -> type:
    """WeasyPrint's HTML document with our user-agent stylesheet, parsed once per process.

    The fork server's warm-up (``render_glyph_sheet``) builds it, so every worker inherits it.
    """
    import weasyprint

    user_agent = weasyprint.CSS(string=TRANSCRIPT_UA_CSS)

    class TranscriptHTML(weasyprint.HTML):
        def _ua_stylesheets(self, forms: bool = False) -> list:
            return [user_agent]

    return TranscriptHTML


@cache
def render_glyph_sheet() -> bytes:
    """Render the one-line page whose embedded font the joiner borrows for page numbers.

    Cached: the render workers' warm-up renders it once, and every worker inherits the bytes.
    """
    from pipeline.transcript.fetcher import TranscriptURLFetcher

    fetcher = TranscriptURLFetcher({})
    return transcript_html_class()(string=GLYPH_SHEET_HTML, url_fetcher=fetcher).write_pdf()
