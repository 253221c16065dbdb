"""The canonical record a transcript carries inside itself, and checking a PDF against it.

The record is a UTF-8 text file embedded in the PDF as an associated file (PDF/A-3 style: the
catalog's ``/AF`` array and the ``/EmbeddedFiles`` name tree, relationship ``/Data``) named
``peerguard-record.jsonl``. Lines are separated by a single LF (U+2028 and friends inside a body
are not line breaks):

* line 1, the header: a JSON object with ``v`` (``peerguard-transcript-record/1``), ``chain``
  (the chain version), ``conversation``, ``head`` (the chain head printed on page 1), ``links``
  (each message's link, in order), ``pages`` (page count) and ``page_digests`` (one SHA-256 per
  page over what the page draws: its content streams and every image or form it paints);
* lines 2 … n+1: each message's canonical JSON exactly as hashed into the chain, so the chain is
  recomputed from these bytes with SHA-256 alone, without re-serialising anything.

``check_transcript`` recomputes everything from the PDF's bytes and lists what differs.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pikepdf

from pipeline.transcript.chain import CHAIN_VERSION, GENESIS_LINK, canonical_message, next_link
from pipeline.transcript.model import TranscriptConversation

RECORD_VERSION = "peerguard-transcript-record/1"
RECORD_NAME = "peerguard-record.jsonl"
_HEAD_PATTERN = re.compile(r"Chain head\s*([0-9a-f\s]{64,100})")


class NotATranscript(ValueError):
    """The file is not a PDF, or carries no PeerGuard record."""


@dataclass(frozen=True)
class TranscriptRecord:
    """The parsed record: the header fields and each message's canonical line."""

    conversation: str
    head: str
    links: tuple[str, ...]
    pages: int
    page_digests: tuple[str, ...]
    lines: tuple[str, ...]

    def message_ids(self) -> list[str]:
        """Each recorded message's external id, in order."""
        return [json.loads(line).get("message", "?") for line in self.lines]


@dataclass(frozen=True)
class VerificationReport:
    """What a check of one transcript found; ``ok`` when nothing differs."""

    conversation: str
    head: str
    message_count: int
    pages: int
    differences: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when the PDF agrees with its record (and the database, when checked)."""
        return not self.differences


def record_bytes(conversation: TranscriptConversation, links: Sequence[str], page_digests: Sequence[str]) -> bytes:
    """Return the record file for a rendered transcript with these page digests."""
    header = {
        "v": RECORD_VERSION, "chain": CHAIN_VERSION, "conversation": conversation.external_id,
        "head": links[-1] if links else GENESIS_LINK, "links": list(links),
        "pages": len(page_digests), "page_digests": list(page_digests),
    }
    lines = [json.dumps(header, sort_keys=True, separators=(",", ":"))]
    lines += [canonical_message(conversation.external_id, message) for message in conversation.messages]
    return "\n".join(lines).encode("utf-8") + b"\n"


def page_digest(page: pikepdf.Page) -> str:
    """SHA-256 over what one page draws: decoded content streams, then every XObject and pattern it paints."""
    return _sha256(_page_pieces(page, {}))


def page_digests(pages: Sequence[pikepdf.Page], threads: int = 2) -> list[str]:
    """``page_digest`` of every page, the same values, for a whole document at once.

    WeasyPrint gives all pages of a part one resource dictionary, so each page's digest covers
    every photo of its part: ``page_digest`` page by page reads and hashes each photo about 40
    times. Here each stream is read once (the bytes shared between pages), and the hashing,
    which releases the GIL, runs on ``threads`` threads; pikepdf is only touched from the
    calling thread.
    """
    cache: dict[tuple[int, int], bytes] = {}
    pieces = [_page_pieces(page, cache) for page in pages]
    if threads <= 1 or len(pieces) < 2:
        return [_sha256(chunks) for chunks in pieces]
    with ThreadPoolExecutor(max_workers=threads) as executor:
        return list(executor.map(_sha256, pieces))


def _sha256(chunks: Sequence[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _page_pieces(page: pikepdf.Page, cache: dict[tuple[int, int], bytes]) -> list[bytes]:
    """The byte strings ``page_digest`` feeds to SHA-256 for ``page``, in its order."""
    chunks = [stream.read_bytes() for stream in _content_streams(page.obj)]
    _resource_pieces(page.obj.get("/Resources"), chunks, set(), cache)
    return chunks


def _resource_pieces(resources: pikepdf.Object | None, chunks: list[bytes], seen: set[tuple[int, int]],
                     cache: dict[tuple[int, int], bytes]) -> None:
    """Collect, in order, each painted XObject and pattern (recursing into forms); fonts are left out.

    Flate and friends are undone (a re-save may recompress), JPEG stays as stored bytes.
    """
    if not isinstance(resources, pikepdf.Dictionary):
        return
    for kind in ("/XObject", "/Pattern"):
        named = resources.get(kind)
        if not isinstance(named, pikepdf.Dictionary):
            continue
        for name in sorted(named.keys()):
            item = named[name]
            if item.is_indirect and item.objgen in seen:
                continue
            if item.is_indirect:
                seen.add(item.objgen)
            chunks.append(name.encode("ascii", "replace"))
            if isinstance(item, pikepdf.Stream):
                if not item.is_indirect:
                    chunks.append(_stream_bytes(item))
                else:
                    if item.objgen not in cache:
                        cache[item.objgen] = _stream_bytes(item)
                    chunks.append(cache[item.objgen])
            _resource_pieces(item.get("/Resources"), chunks, seen, cache)


def _content_streams(page: pikepdf.Object) -> list[pikepdf.Stream]:
    contents = page.get("/Contents")
    if contents is None:
        return []
    return list(contents) if isinstance(contents, pikepdf.Array) else [contents]


def _stream_bytes(stream: pikepdf.Stream) -> bytes:
    try:
        return stream.read_bytes()
    except pikepdf.PdfError:
        return stream.read_raw_bytes()  # a JPEG (DCTDecode) is not decoded: its stored bytes count


def read_record(pdf: pikepdf.Pdf) -> TranscriptRecord:
    """Find and parse the embedded record; NotATranscript when it is missing or malformed."""
    if RECORD_NAME not in pdf.attachments:
        raise NotATranscript(f"no embedded {RECORD_NAME}: not a PeerGuard transcript, or the record was removed")
    data = pdf.attachments[RECORD_NAME].get_file().read_bytes()
    try:
        header_line, *lines = data.decode("utf-8").removesuffix("\n").split("\n")
        header = json.loads(header_line)
        if header.get("v") != RECORD_VERSION:
            raise NotATranscript(f"unknown record version {header.get('v')!r}")
        return TranscriptRecord(
            conversation=str(header["conversation"]), head=str(header["head"]),
            links=tuple(header["links"]), pages=int(header["pages"]),
            page_digests=tuple(header["page_digests"]), lines=tuple(lines),
        )
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise NotATranscript(f"the embedded record is malformed: {exc}") from None


def open_pdf(data: bytes) -> pikepdf.Pdf:
    """Open PDF bytes; NotATranscript for anything that is not a readable PDF."""
    try:
        return pikepdf.Pdf.open(io.BytesIO(data))
    except pikepdf.PdfError as exc:
        raise NotATranscript(f"not a readable PDF: {exc}") from None


def check_transcript(data: bytes) -> tuple[VerificationReport, TranscriptRecord]:
    """Recompute the chain from the PDF's record and compare it with the printed head and the pages."""
    pdf = open_pdf(data)
    record = read_record(pdf)
    differences = _chain_differences(record)
    printed_head = _printed_head(data)
    if printed_head is None:
        differences.append("page 1 shows no chain head")
    elif printed_head != record.head:
        differences.append(f"page 1 shows chain head {printed_head}, the record's head is {record.head}")
    differences += _page_differences(pdf, record)
    report = VerificationReport(record.conversation, record.head, len(record.lines), len(pdf.pages), tuple(differences))
    return report, record


def _chain_differences(record: TranscriptRecord) -> list[str]:
    differences: list[str] = []
    if len(record.links) != len(record.lines):
        differences.append(f"the record lists {len(record.links)} links for {len(record.lines)} messages")
    link, first_bad = GENESIS_LINK, None
    for position, line in enumerate(record.lines):
        link = next_link(link, line)
        recorded = record.links[position] if position < len(record.links) else None
        if first_bad is None and link != recorded:
            first_bad = position
    if first_bad is not None:
        message = record.message_ids()[first_bad]
        differences.append(f"message {message} (number {first_bad + 1}) does not match its recorded link: "
                           "its id, sender, time, body or attachments were changed, or messages were reordered")
    if link != record.head:
        differences.append(f"the chain recomputed from the record ends in {link}, not the recorded head {record.head}")
    return differences


def _page_differences(pdf: pikepdf.Pdf, record: TranscriptRecord) -> list[str]:
    differences: list[str] = []
    if len(pdf.pages) != record.pages:
        differences.append(f"the PDF has {len(pdf.pages)} pages, the record says {record.pages}: pages were removed or added")
    actual = [page_digest(page) for page in pdf.pages]
    expected = list(record.page_digests)
    moved = [n for n, d in enumerate(actual, 1) if d in expected and expected.index(d) + 1 != n]
    changed = [n for n, d in enumerate(actual, 1) if d not in expected]
    if changed:
        differences.append(f"page(s) {_numbers(changed)} differ from the record (text, photos or drawing changed)")
    if moved and len(pdf.pages) == record.pages:
        differences.append(f"page(s) {_numbers(moved)} are out of their recorded order")
    missing = [n for n, d in enumerate(expected, 1) if d not in actual]
    if missing and len(pdf.pages) != record.pages:
        differences.append(f"recorded page(s) {_numbers(missing)} are missing")
    return differences


def _numbers(numbers: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def _printed_head(data: bytes) -> str | None:
    """The chain head as printed on page 1 (the text may wrap it across lines)."""
    import pypdf  # only verification reads text; a render does not load pypdf (~25 MB)

    try:
        page_text = pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()
    except (pypdf.errors.PdfReadError, IndexError, KeyError, ValueError):
        return None
    match = _HEAD_PATTERN.search(page_text)
    if match is None:
        return None
    digits = re.sub(r"\s", "", match.group(1))[:64]
    return digits if len(digits) == 64 else None


def compare_with_stored(record: TranscriptRecord, stored: TranscriptConversation) -> list[str]:
    """What differs between the record and the conversation as stored, message by message."""
    stored_lines = [canonical_message(stored.external_id, m) for m in stored.messages]
    differences: list[str] = []
    recorded = {json.loads(line)["message"]: json.loads(line) for line in record.lines}
    current = {m.external_id: json.loads(line) for m, line in zip(stored.messages, stored_lines, strict=True)}
    for message_id, values in recorded.items():
        if message_id not in current:
            differences.append(f"message {message_id} is in the PDF but not in the stored conversation")
            continue
        fields = sorted(k for k in set(values) | set(current[message_id]) if values.get(k) != current[message_id].get(k))
        if fields:
            differences.append(f"message {message_id}: {', '.join(fields)} differ from the stored conversation")
    absent = [m for m in current if m not in recorded]
    if absent:
        differences.append(f"stored message(s) {', '.join(absent[:10])} are missing from the PDF")
    if not differences and [json.loads(line)["message"] for line in record.lines] != list(current):
        differences.append("the messages are in a different order than in the stored conversation")
    return differences
