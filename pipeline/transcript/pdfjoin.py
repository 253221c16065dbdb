"""Join separately rendered parts into one tagged PDF, draw the chain links, stamp running headers and "Page X of Y" footers.

WeasyPrint's cost grows with pages and its memory with the document, so long transcripts are
rendered in parts. Joining them must keep what a single render would have had: one structure
tree (PDF/UA), the outline, document metadata, and page numbers counted over the whole file.
qpdf (through pikepdf) does the copying, because pure-Python joining cost more than rendering.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from urllib.parse import unquote

import pikepdf
from pikepdf import Array, Dictionary, Name, Pdf

from pipeline.transcript.model import EmbeddedDocument
from pipeline.transcript.parts import LINK_FONT_SIZE, META_FONT_SIZE, LinkStamp, PageDays
from pipeline.transcript.record import RECORD_NAME, page_digests
from pipeline.transcript.served import MESSAGE_LINK_SCHEME

FOOTER_FONT = Name("/PGFooter")
FOOTER_SIZE = 8.0
FOOTER_BASELINE = 30.0  # points above the bottom edge, inside the 20 mm bottom margin
LINK_GRAY = 0.4  # the former ``.link`` paragraph's color, #666
META_GRAY = 0x33 / 0xFF  # the ``.meta`` paragraph's color, #333
# Running headers, where WeasyPrint's @top-left and @top-right margin boxes put them: 7.5 pt,
# #555, 16 mm from the page's sides, the line (DejaVu Sans' normal line height) centred in the
# 18 mm top margin. tests/transcript/test_running_headers.py compares with a real layout.
HEADER_SIZE = 7.5
HEADER_GRAY = 0x55 / 0xFF
HEADER_SIDE = 16 * 72 / 25.4
_ASCENT, _DESCENT = 1901 / 2048, 483 / 2048
HEADER_BASELINE = (18 * 72 / 25.4 - (_ASCENT + _DESCENT) * HEADER_SIZE) / 2 + _ASCENT * HEADER_SIZE  # from the top
_CATALOG_KEYS = ("/Lang", "/MarkInfo", "/ViewerPreferences", "/Metadata")
__all__ = ["EmbeddedDocument", "FooterFont", "join_parts"]  # EmbeddedDocument lives in model (no pikepdf there)


@dataclass(frozen=True)
class FooterFont:
    """A small embedded font taken from a WeasyPrint render, with the glyphs footers need."""

    font: pikepdf.Object
    codes: dict[str, int]
    widths: dict[int, float]


@dataclass
class _Structure:
    """The shared Document element and the merged parent tree, grown part by part."""

    document: pikepdf.Object | None = None
    nums: list[pikepdf.Object] | None = None
    next_key: int = 0
    # Each part's named destinations (a message block's id), as explicit destinations in the
    # joined document: a link in one part may lead to a message drawn in another.
    anchors: dict[str, Array] | None = None
    # Content drawn over each joined page (by page index) after WeasyPrint's: the running
    # headers, then the chain links.
    overlays: dict[int, list[bytes]] = field(default_factory=dict)
    # The day of the last heading on the pages joined so far, carried into the next page's header.
    day: str | None = None


def join_parts(
    parts: Iterable[bytes | tuple[bytes, Sequence[LinkStamp]] | tuple[bytes, Sequence[LinkStamp], Sequence[PageDays]]
                    | tuple[bytes, Sequence[LinkStamp], Sequence[PageDays], Sequence[LinkStamp]]],
    glyph_sheet: bytes,
    documents: Sequence[EmbeddedDocument],
    now: datetime,
    record: Callable[[Sequence[str]], bytes] | None = None,
    title: str | None = None,
) -> tuple[bytes, int]:
    """Return the joined PDF and its page count; ``parts`` may be a generator of results.

    A part is its PDF bytes, or the bytes and the chain link lines to draw on its pages, and
    with ``title`` each page's day headings for the running headers the joiner stamps (``title``
    at the top left, the day in force where the page begins at the top right), and the messages'
    meta lines to draw.
    ``record`` turns the finished pages' digests into the canonical record, embedded last as
    the document's associated file so the PDF can be verified on its own.
    """
    out = Pdf.new()
    structure = _Structure(nums=[], anchors={})
    # qpdf copies stream data lazily from the source it was copied from; the glyph sheet stays
    # open until save, each part is closed as soon as its streams are held by ``out`` itself.
    sources: list[Pdf] = []
    font = _footer_font(out, glyph_sheet, sources)
    for index, part in enumerate(parts):
        data, links, days, metas = (*part, (), ())[:4] if isinstance(part, tuple) else (part, (), (), ())
        source = Pdf.open(io.BytesIO(data))
        copied_from = _next_object_number(out)
        first_page = len(out.pages)
        if title is not None:
            for number, page in enumerate(source.pages):
                page_days = days[number] if number < len(days) else PageDays(None, None)
                day = page_days.start or structure.day
                structure.day = page_days.last or structure.day
                width = float(page.mediabox[2]) - float(page.mediabox[0])
                structure.overlays.setdefault(first_page + number, []).append(
                    _header_stream(font, title, day, width, float(page.mediabox[3])))
        if metas or links:
            tags = _tags(source)
            # Meta lines first (their MCIDs, then the links'), each kind one overlay a page.
            for stamps, style in ((metas, _META_LINE), (links, _LINK_LINE)):
                for number, content in _draw_lines(source, tags, stamps, font, style).items():
                    structure.overlays.setdefault(first_page + number, []).append(content)
        _append_part(out, source, structure, first=index == 0)
        _take_stream_data(out, copied_from, _next_object_number(out))
        source.close()
        del source, data, part
    _install_structure_root(out, structure)
    _resolve_message_links(out, structure.anchors)
    _stamp_footers(out, font, structure.overlays)
    _keep_painted_xobjects(out)
    _embed_documents(out, documents, now)
    if record is not None:
        _embed_record(out, record(page_digests(out.pages)), now)
    buffer = io.BytesIO()
    out.save(buffer, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return buffer.getvalue(), len(out.pages)


def _append_part(out: Pdf, source: Pdf, structure: _Structure, first: bool) -> None:
    first_page = len(out.pages)
    out.pages.extend(source.pages)
    if first:
        _copy_catalog(out, source)
    # Copying after the pages reuses the already-copied page objects, so /Pg references hold.
    _merge_structure(out, source, structure, first_page)
    _copy_outline(out, source, first_page)
    _collect_anchors(out, source, structure.anchors, first_page)


def _next_object_number(out: Pdf) -> int:
    """The number qpdf gives the next object added to ``out`` (it numbers new objects in sequence).

    Found by adding an empty dictionary that nothing refers to, so the writer leaves it out of
    the file. ``len(out.objects)`` told the same but listed every object of the joined document,
    once per part: 0.37 s of case B's join, growing with the square of the part count.
    """
    return out.make_indirect(Dictionary()).objgen[0]


def _take_stream_data(out: Pdf, first: int, end: int) -> None:
    """Hold the encoded data of the streams numbered ``first`` to ``end - 1`` (the copies) in ``out`` itself.

    Until then qpdf reads a copied stream's data from the part it came from at save time, so
    every part (its bytes and its parsed objects) stayed open until the whole document was
    saved and the joining process grew with the transcript. The bytes are the same, still
    encoded with the same filters, so the saved file does not change.
    """
    for number in range(first, end):
        obj = out.get_object(number, 0)
        if isinstance(obj, pikepdf.Stream):
            obj.write(obj.read_raw_bytes(), filter=obj.get("/Filter"), decode_parms=obj.get("/DecodeParms"),
                      type_check=False)


def _collect_anchors(out: Pdf, source: Pdf, anchors: dict[str, Array], first_page: int) -> None:
    """Record where this part's named destinations land in the joined document."""
    if "/Names" not in source.Root or "/Dests" not in source.Root.Names:
        return
    page_numbers = {page.obj.objgen: number for number, page in enumerate(source.pages)}
    for name, destination in pikepdf.NameTree(source.Root.Names.Dests).items():
        if isinstance(destination, Dictionary):
            destination = destination.D
        anchors.setdefault(str(name), _destination(out, destination, page_numbers, first_page))


def _resolve_message_links(out: Pdf, anchors: dict[str, Array]) -> None:
    """Turn the summary's links to message blocks into jumps to the pages where those blocks landed.

    Each part is rendered as its own document, and WeasyPrint drops a link whose target is not
    in it; so the first page's summary links to messages with a URI of our own scheme
    (``pg-message:m-INDEX?id=…``), and here each becomes a GoTo to the block's explicit destination,
    wherever it was drawn. The named destinations are also installed for the whole document.
    """
    for page in out.pages:
        for annotation in page.obj.get("/Annots", ()):
            action = annotation.get("/A")
            if action is None or action.get("/S") != Name.URI:
                continue
            uri = str(action.URI)
            if not uri.startswith(f"{MESSAGE_LINK_SCHEME}:"):
                continue
            anchor, _, query = uri[len(MESSAGE_LINK_SCHEME) + 1:].partition("?id=")
            target = anchors.get(anchor)
            del annotation["/A"]
            if target is not None:
                annotation.A = Dictionary(Type=Name.Action, S=Name.GoTo, D=target)
                annotation.Contents = pikepdf.String(f"Go to message {unquote(query)}")
    if anchors:
        names = Array()
        for name in sorted(anchors):
            names.extend([pikepdf.String(name), anchors[name]])
        if "/Names" not in out.Root:
            out.Root.Names = Dictionary()
        out.Root.Names.Dests = out.make_indirect(Dictionary(Names=names))


def _copy_catalog(out: Pdf, source: Pdf) -> None:
    # Language, tagging flags and the PDF/UA metadata stream live in the catalog of each part.
    for key in _CATALOG_KEYS:
        if key in source.Root:
            value = source.Root[key]
            out.Root[key] = out.copy_foreign(value) if value.is_indirect else pikepdf.Object.parse(value.unparse())
    out.Root.PageMode = Name.UseOutlines
    for key, value in source.docinfo.items():
        out.docinfo[key] = pikepdf.String(str(value))


def _merge_structure(out: Pdf, source: Pdf, structure: _Structure, first_page: int) -> None:
    """Graft one part's structure tree under the shared Document element."""
    if "/StructTreeRoot" not in source.Root:
        return
    root = out.copy_foreign(source.Root.StructTreeRoot)
    part_document = root.K[0]
    if structure.document is None:
        structure.document = part_document
    else:
        for child in part_document.K:
            if isinstance(child, Dictionary):
                child.P = structure.document
            structure.document.K.append(child)
    highest = _shift_parent_tree(root.ParentTree.Nums, structure)
    for page in out.pages[first_page:]:
        if "/StructParents" in page.obj:
            page.obj.StructParents = int(page.obj.StructParents) + structure.next_key
    structure.next_key += highest + 1


def _shift_parent_tree(nums: Array, structure: _Structure) -> int:
    highest = -1
    for position in range(0, len(nums), 2):
        key = int(nums[position])
        highest = max(highest, key)
        structure.nums.extend([key + structure.next_key, nums[position + 1]])
    return highest


def _install_structure_root(out: Pdf, structure: _Structure) -> None:
    if structure.document is None:
        return
    root = out.make_indirect(Dictionary(
        Type=Name.StructTreeRoot,
        K=Array([structure.document]),
        ParentTree=out.make_indirect(Dictionary(Nums=Array(structure.nums))),
        ParentTreeNextKey=structure.next_key,
    ))
    structure.document.P = root
    out.Root.StructTreeRoot = root


def _copy_outline(out: Pdf, source: Pdf, first_page: int) -> None:
    page_numbers = {page.obj.objgen: number for number, page in enumerate(source.pages)}
    with source.open_outline() as source_outline, out.open_outline() as outline:
        for item in source_outline.root:
            outline.root.append(_outline_item(out, item, page_numbers, first_page))


def _outline_item(
    out: Pdf, item: pikepdf.OutlineItem, page_numbers: dict[tuple[int, int], int], first_page: int
) -> pikepdf.OutlineItem:
    destination = item.destination
    if destination is None and item.action is not None and "/D" in item.action:
        destination = item.action.D
    copied = pikepdf.OutlineItem(item.title, _destination(out, destination, page_numbers, first_page))
    copied.children.extend(_outline_item(out, child, page_numbers, first_page) for child in item.children)
    return copied


def _destination(
    out: Pdf, destination: pikepdf.Object | None, page_numbers: dict[tuple[int, int], int], first_page: int
) -> Array | int:
    if not isinstance(destination, Array) or len(destination) == 0:
        return first_page
    number = page_numbers.get(destination[0].objgen, 0) + first_page
    return Array([out.pages[number].obj, *list(destination)[1:]])


def _footer_font(out: Pdf, glyph_sheet: bytes, sources: list[Pdf]) -> FooterFont:
    """Borrow the embedded font of a one-line WeasyPrint render as the footer font."""
    sheet = Pdf.open(io.BytesIO(glyph_sheet))
    sources.append(sheet)
    font = next(iter(sheet.pages[0].Resources.Font.values()))
    codes = _unicode_to_code(font.ToUnicode.read_bytes().decode("latin-1"))
    widths = _cid_widths(font.DescendantFonts[0].W)
    return FooterFont(font=out.copy_foreign(font), codes=codes, widths=widths)


def _unicode_to_code(cmap: str) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for code, unicode in re.findall(r"<([0-9a-fA-F]{4})>\s*<([0-9a-fA-F]{4})>", cmap):
        mapping.setdefault(chr(int(unicode, 16)), int(code, 16))
    return mapping


def _cid_widths(w_array: Array) -> dict[int, float]:
    widths: dict[int, float] = {}
    items = list(w_array)
    index = 0
    while index < len(items):
        first, item = int(items[index]), items[index + 1]
        if isinstance(item, Array):
            widths.update({first + offset: float(width) for offset, width in enumerate(item)})
            index += 2
        else:
            widths.update({cid: float(items[index + 2]) for cid in range(first, int(item) + 1)})
            index += 3
    return widths


@dataclass(frozen=True)
class _LineStyle:
    """How one kind of stamped line is drawn and tagged."""

    name: str
    gray: str
    size: float
    opens: bool
    """Its P element comes first in the message's Art element (the meta line), else last (the link line)."""


_META_LINE = _LineStyle("meta line", f"{META_GRAY:.4f}", META_FONT_SIZE, opens=True)
_LINK_LINE = _LineStyle("link line", f"{LINK_GRAY:g}", LINK_FONT_SIZE, opens=False)


class _Tags(NamedTuple):
    """A part's structure tree, read once for all its stamped lines: Art elements by page, MCID arrays by page."""

    tree: pikepdf.Object | None
    articles: dict[tuple[int, int], list[pikepdf.Object]]
    page_kids: dict[int, pikepdf.Object]


def _tags(source: Pdf) -> _Tags:
    tree = source.Root.get("/StructTreeRoot")
    articles: dict[tuple[int, int], list[pikepdf.Object]] = {}
    page_kids: dict[int, pikepdf.Object] = {}
    if tree is not None:
        _collect_articles(tree.K, articles)
        nums = tree.ParentTree.Nums
        page_kids = {int(nums[position]): nums[position + 1] for position in range(0, len(nums), 2)}
    return _Tags(tree, articles, page_kids)


def _draw_lines(source: Pdf, tags: _Tags, stamps: Sequence[LinkStamp], font: FooterFont,
                style: _LineStyle) -> dict[int, bytes]:
    """Tag each stamped line as a P element of its message's Art element (first or last, as ``style``
    says); return what to draw.

    The returned content (by page index in the part) is drawn in the page's default coordinates,
    after WeasyPrint's content; each line is marked content whose MCID the page's parent tree
    entry maps to its P element. A message whose line has a placeholder (an empty P laid out for
    it) gets that element filled instead of a new one.
    """
    drawn: dict[int, list[bytes]] = {}
    for stamp in stamps:
        page = source.pages[stamp.page].obj
        marking = b""
        if tags.tree is not None:
            article = tags.articles[page.objgen][stamp.article]
            kids = tags.page_kids[int(page.StructParents)]
            mcid = len(kids)
            if stamp.placeholder:
                element = article.K[0 if style.opens else len(article.K) - 1]
                if element.get("/S") != Name.P or len(element.get("/K", ())) != 0:
                    raise ValueError(f"page {stamp.page}: the message's {'first' if style.opens else 'last'}"
                                     f" element is not its empty {style.name}")
                element.K = mcid
            else:
                element = source.make_indirect(Dictionary(Type=Name.StructElem, S=Name.P, P=article, Pg=page, K=mcid))
                if style.opens:
                    article.K.insert(0, element)
                else:
                    article.K.append(element)
            kids.append(element)
            marking = f"/P <</MCID {mcid}>> BDC ".encode()
        codes = "".join(f"{font.codes[character]:04x}" for character in stamp.text)
        y = float(page.MediaBox[3]) - stamp.baseline
        drawn.setdefault(stamp.page, []).append(
            marking + f"q {style.gray} g BT {FOOTER_FONT} {style.size:g} Tf 1 0 0 1 {stamp.x:.2f} {y:.2f} Tm "
            f"<{codes}> Tj ET Q{' EMC' if marking else ''}\n".encode("ascii"))
    return {number: b"".join(lines) for number, lines in drawn.items()}


# Structure elements that may hold message blocks; the walk does not enter any other.
_CONTAINERS = (Name("/Document"), Name("/Sect"), Name("/Div"), Name("/Part"), Name("/NonStruct"))


def _collect_articles(kids: pikepdf.Object, articles: dict[tuple[int, int], list[pikepdf.Object]]) -> None:
    """Each page's Art elements in tree order, which is the order the render counted them in."""
    for kid in kids if isinstance(kids, Array) else [kids]:
        if not isinstance(kid, Dictionary) or "/S" not in kid:
            continue
        if kid.S == Name.Art:
            articles.setdefault(kid.Pg.objgen, []).append(kid)
        elif kid.S in _CONTAINERS and "/K" in kid:
            _collect_articles(kid.K, articles)


def _stamp_footers(out: Pdf, footer: FooterFont, overlays: dict[int, list[bytes]]) -> None:
    total = len(out.pages)
    opening = out.make_stream(b"q\n")
    for number, page in enumerate(out.pages, start=1):
        if "/Resources" not in page.obj:
            page.obj.Resources = Dictionary()
        resources = page.obj.Resources
        if "/Font" not in resources:
            resources.Font = Dictionary()
        resources.Font[FOOTER_FONT] = footer.font
        width = float(page.mediabox[2]) - float(page.mediabox[0])
        # WeasyPrint's page stream starts with an unbalanced "cm"; q/Q around it restores the
        # default coordinate system before the footer is drawn.
        page.contents_add(opening, prepend=True)
        overlay = b"".join(overlays.get(number - 1, ()))
        page.contents_add(out.make_stream(b"\nQ\n" + overlay + _footer_stream(footer, number, total, width)))


def _text_width(font: FooterFont, text: str, size: float) -> float:
    return sum(font.widths.get(font.codes[character], 500.0) for character in text) * size / 1000


def _header_stream(font: FooterFont, title: str, day: str | None, page_width: float, page_height: float) -> bytes:
    """The running headers of one page, as pagination artifacts (visible, not in the text order)."""
    y = page_height - HEADER_BASELINE
    lines = [(HEADER_SIDE, title)]
    if day:
        lines.append((page_width - HEADER_SIDE - _text_width(font, day, HEADER_SIZE), day))
    drawn = "".join(
        f"BT {FOOTER_FONT} {HEADER_SIZE:g} Tf 1 0 0 1 {x:.2f} {y:.2f} Tm <{''.join(f'{font.codes[character]:04x}' for character in text)}> Tj ET "
        for x, text in lines if text)
    return (
        f"/Artifact <</Type /Pagination /Subtype /Header>> BDC q {HEADER_GRAY:.4f} g "
        f"{drawn}Q EMC\n"
    ).encode("ascii")


def _footer_stream(footer: FooterFont, number: int, total: int, page_width: float) -> bytes:
    # Page numbers are pagination artifacts for PDF/UA: visible, but not part of the text order.
    codes = [footer.codes[character] for character in f"Page {number} of {total}"]
    text_width = sum(footer.widths.get(code, 500.0) for code in codes) * FOOTER_SIZE / 1000
    x = (page_width - text_width) / 2
    glyphs = "".join(f"{code:04x}" for code in codes)
    return (
        f"/Artifact <</Type /Pagination /Subtype /Footer>> BDC q 0.2 g BT {FOOTER_FONT} "
        f"{FOOTER_SIZE:g} Tf 1 0 0 1 {x:.2f} {FOOTER_BASELINE:g} Tm <{glyphs}> Tj ET Q EMC\n"
    ).encode("ascii")


# A name painted with "Do" in a content stream (WeasyPrint's names are plain, no "#xx" escapes;
# a name that only looks painted is kept, which is harmless).
_PAINTED = re.compile(rb"/([^\s/<>\[\]()%{}]+)\s+Do\b")


def _keep_painted_xobjects(out: Pdf) -> None:
    """Give each page a resource dictionary naming only the XObjects its content paints.

    WeasyPrint gives all pages of a part one resource dictionary, so every page listed every
    photo of its part, and a page digest (``record.page_digest``: the page's content, then each
    XObject of its resources) hashed all of them: about 700 MB of SHA-256 for 176 pages and 100
    photos. Pruned, each photo is hashed for the page that shows it; the digest's definition and
    the verifiers are unchanged, and what each page draws is the same.
    """
    for page in out.pages:
        resources = page.obj.get("/Resources")
        if not isinstance(resources, Dictionary) or not isinstance(resources.get("/XObject"), Dictionary):
            continue
        named = resources.XObject
        painted = set()
        for stream in _page_contents(page.obj):
            painted.update("/" + name.decode("latin-1") for name in _PAINTED.findall(stream.read_bytes()))
        if painted.issuperset(named.keys()) or any(
                name in named and named[name].get("/Subtype") == Name.Form and "/Resources" not in named[name]
                for name in painted):
            continue  # nothing to drop, or a form that borrows the page's resources
        kept = Dictionary({name: named[name] for name in named.keys() if name in painted})
        page.obj.Resources = Dictionary({key: resources[key] for key in resources.keys()})
        page.obj.Resources.XObject = kept


def _page_contents(page: pikepdf.Object) -> list[pikepdf.Object]:
    contents = page.get("/Contents")
    if contents is None:
        return []
    return list(contents) if isinstance(contents, Array) else [contents]


def _embed_documents(out: Pdf, documents: Sequence[EmbeddedDocument], now: datetime) -> None:
    stamp = pikepdf.objects.String(now.strftime("D:%Y%m%d%H%M%SZ"))
    for document in documents:
        out.attachments[document.name] = pikepdf.AttachedFileSpec(
            out, document.data, description=document.description, filename=document.name,
            mime_type=document.mime_type, creation_date=str(stamp), mod_date=str(stamp),
        )


def _embed_record(out: Pdf, data: bytes, now: datetime) -> None:
    """Attach the canonical record as a PDF/A-3 style associated file of the whole document."""
    stamp = str(pikepdf.objects.String(now.strftime("D:%Y%m%d%H%M%SZ")))
    spec = pikepdf.AttachedFileSpec(
        out, data, description="Canonical conversation record: the hash chain's input (peerguard verify)",
        filename=RECORD_NAME, mime_type="application/jsonl", creation_date=stamp, mod_date=stamp,
        relationship=Name.Data,
    )
    out.attachments[RECORD_NAME] = spec
    out.Root.AF = Array([*(out.Root.get("/AF") or []), spec.obj])
