"""Full transcripts read back with pypdf: text, page numbers, chain head, appendix, safety."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pikepdf
import pypdf
import pytest

from pipeline.transcript import TranscriptOptions, chain_head, render_transcript
from pipeline.transcript.record import RECORD_NAME
from tests.transcript.factories import (
    NOW,
    BlobShelf,
    conversation,
    finding,
    jpeg,
    message,
    minimal_pdf,
    png,
    png_bomb,
)
from usecases.transcript_rendering import render_environment

HOSTILE_BODIES = [
    "<script>alert('pwned')</script>",
    '<img src="file:///etc/passwd">',
    "<link rel=attachment href=file:///etc/passwd>",
    "<style>body { display: none }</style> * { color: white !important }",
    "W" * 10_000,
    "Ship it by Friday; plain text between hostile ones",
    "Deal, thanks",
    "Call me on +1 555 0100 instead",
]
# pypdf cannot decode the custom font encoding WeasyPrint switches to for these scripts, so
# they are rendered separately and checked through the fonts' ToUnicode maps.
MULTILINGUAL_BODIES = ["שלום, המטבע עדיין זמין?", "مرحبا، هل العملة متاحة؟", "Deal 🤝 thanks 😀"]


@pytest.fixture(scope="module")
def shelf() -> BlobShelf:
    return BlobShelf()


@pytest.fixture(scope="module")
def hostile(shelf: BlobShelf):
    photo = shelf.add(jpeg(2400, 1800, orientation=6), "coin-front.jpg", "image/jpeg")
    lying_png = shelf.add(png(120, 80), "looks-like.jpg", "image/jpeg")
    receipt = shelf.add(minimal_pdf(), "receipt.pdf", "application/pdf")
    truncated = shelf.add(jpeg(900, 700)[:2000], "cut-off.jpg", "image/jpeg")
    bomb = shelf.add(png_bomb(), "huge.png", "image/png")
    fake = shelf.add(b"#!/bin/sh\nrm -rf /\n", "holiday.jpg", "image/jpeg")
    messages = [message(i, body) for i, body in enumerate(HOSTILE_BODIES)]
    last = HOSTILE_BODIES[-1]
    messages[-1] = message(len(HOSTILE_BODIES) - 1, last, findings=[finding(last, "+1 555 0100")])
    messages += [
        message(8, "Photos and the receipt attached", attachments=[photo, lying_png, receipt], minutes=1500),
        message(9, "These did not upload well", attachments=[truncated, bomb, fake], minutes=1500),
    ]
    return conversation(messages)


@pytest.fixture(scope="module")
def rendered(hostile, shelf: BlobShelf, tmp_path_factory):
    environment = render_environment(shelf.read, tmp_path_factory.mktemp("cache"))
    # Tiny parts force the split-render-join path that long conversations take.
    options = TranscriptOptions(messages_per_part=4, min_messages_to_split=0, workers=2)
    return render_transcript(hostile, now=NOW, environment=environment, options=options)


@pytest.fixture(scope="module")
def reader(rendered) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(rendered.pdf))


@pytest.fixture(scope="module")
def text(reader) -> str:
    return "\n".join(page_text(page) for page in reader.pages)


def page_text(page: pypdf.PageObject) -> str:
    """Return a page's text; pypdf leaves NULs when WeasyPrint uses a custom font encoding."""
    return page.extract_text().replace("\x00", "")


def _squash(value: str) -> str:
    return re.sub(r"\s+", "", value)


def test_every_page_says_page_x_of_y(reader, rendered) -> None:
    total = len(reader.pages)
    assert total == rendered.pages and total >= 3
    for number, page in enumerate(reader.pages, start=1):
        assert f"Page {number} of {total}" in page_text(page)


def test_first_page_has_header_and_chain_head(reader, hostile) -> None:
    first = page_text(reader.pages[0])
    for expected in ("conv-42", "ORD-2026-0042", "Bea Buyer", "Sam Seller", "2026-04-02 12:30:00 UTC",
                     "PeerGuard transcript", "America/New_York"):
        assert expected in first
    assert chain_head(hostile) in _squash(first)


def test_hostile_bodies_are_printed_as_text(text) -> None:
    for body in HOSTILE_BODIES[:4]:
        assert body in text
    assert text.count("W") >= 10_000
    assert HOSTILE_BODIES[5] in text and HOSTILE_BODIES[6] in text


def test_right_to_left_text_and_emoji_are_kept_as_text(shelf: BlobShelf, tmp_path: Path) -> None:
    multilingual = conversation([message(i, body) for i, body in enumerate(MULTILINGUAL_BODIES)])
    environment = render_environment(shelf.read, tmp_path)
    pdf = render_transcript(multilingual, now=NOW, environment=environment).pdf
    mapped = _unicode_in_fonts(pdf)
    for body in MULTILINGUAL_BODIES[:2]:
        assert {ord(c) for c in body if c.isalpha()} <= mapped
    assert ord("😀") in mapped


def test_messages_show_utc_and_seller_local_time(text) -> None:
    assert "2026-03-01 09:00:00 UTC" in text
    assert "seller local 2026-03-01 04:00:00 EST" in text


def test_findings_are_listed_with_their_message(text) -> None:
    assert "Moderation finding: phone_number" in text and "+1 555 0100" in text


def test_appendix_lists_every_attachment_with_hash(text, hostile) -> None:
    appendix = _squash(text[text.rindex("Appendix: attachments"):])
    for m in hostile.messages:
        for attachment in m.attachments:
            assert _squash(attachment.original_name) in appendix
            assert attachment.sha256 in appendix
    assert "image/png(declaredimage/jpeg)" in appendix
    # The "photo" that is really a shell script is plain text now: shown escaped, in monospace.
    assert appendix.count("notrenderable") == 2


def test_attachment_outcomes(rendered) -> None:
    outcomes = {o.attachment.original_name: o for o in rendered.attachments}
    assert outcomes["coin-front.jpg"].disposition == "image"
    assert outcomes["looks-like.jpg"].disposition == "image"
    assert outcomes["looks-like.jpg"].detected_type == "image/png"
    assert outcomes["receipt.pdf"].disposition == "embedded"
    assert "truncated" in outcomes["cut-off.jpg"].reason
    assert "exceeds" in outcomes["huge.png"].reason
    assert outcomes["holiday.jpg"].disposition == "text" and outcomes["holiday.jpg"].detected_type == "text/plain"
    assert outcomes["holiday.jpg"].preview == "#!/bin/sh\nrm -rf /"


def test_only_the_receipt_is_embedded_and_nothing_was_fetched(reader, rendered) -> None:
    names = [name for name in reader.attachments if name != RECORD_NAME]
    assert len(names) == 1 and names[0].endswith("receipt.pdf")
    assert rendered.refused_urls == ()
    assert b"root:x:0:0" not in _all_stream_bytes(rendered.pdf)


def test_outline_has_one_bookmark_per_day(reader) -> None:
    titles = [item.title for item in reader.outline]
    assert titles[0] == "Transcript header"
    assert "Sunday 01 March 2026 (UTC)" in titles
    assert "Appendix: attachments" in titles
    assert len([t for t in titles if t.endswith("(UTC)")]) == len(set(titles) - {"Transcript header", "Appendix: attachments"})


def test_pdf_is_tagged_as_pdf_ua(rendered) -> None:
    with pikepdf.open(io.BytesIO(rendered.pdf)) as pdf:
        assert "/StructTreeRoot" in pdf.Root and pdf.Root.MarkInfo.Marked
        assert str(pdf.Root.Lang) == "en"
        assert b"pdfuaid" in pdf.Root.Metadata.read_bytes()
        document = pdf.Root.StructTreeRoot.K[0]
        assert document.S == "/Document" and len(document.K) >= 3
        assert all(kid.P.objgen == document.objgen for kid in document.K)
        keys = [int(k) for k in list(pdf.Root.StructTreeRoot.ParentTree.Nums)[::2]]
        assert len(keys) == len(set(keys))
        assert sorted(int(p.obj.StructParents) for p in pdf.pages) == sorted(set(int(p.obj.StructParents) for p in pdf.pages))


def test_second_render_uses_the_image_cache(hostile, shelf: BlobShelf, rendered, tmp_path: Path) -> None:
    shelf.reads.clear()
    environment = render_environment(shelf.read, tmp_path)
    small = conversation([hostile.messages[8]])
    render_transcript(small, now=NOW, environment=environment)
    first_reads = len(shelf.reads)
    shelf.reads.clear()
    render_transcript(small, now=NOW, environment=environment)
    photo_keys = {a.blob_key for a in hostile.messages[8].attachments if a.original_name != "receipt.pdf"}
    assert first_reads == 3 and not photo_keys & set(shelf.reads)


def _unicode_in_fonts(pdf_bytes: bytes) -> set[int]:
    points: set[int] = set()
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        for page in pdf.pages:
            for font in page.Resources.Font.values():
                if "/ToUnicode" in font:
                    cmap = font.ToUnicode.read_bytes().decode("latin-1")
                    for target in re.findall(r"<[0-9a-fA-F]+>\s*<([0-9a-fA-F]{4,})>", cmap):
                        points |= _code_points(target)
    return points


def _code_points(utf16_hex: str) -> set[int]:
    return {ord(c) for c in bytes.fromhex(utf16_hex).decode("utf-16-be", errors="replace")}


def _all_stream_bytes(pdf_bytes: bytes) -> bytes:
    chunks = []
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream):
                try:
                    chunks.append(obj.read_bytes())
                except pikepdf.PdfError:
                    chunks.append(obj.read_raw_bytes())
    return b"".join(chunks)
