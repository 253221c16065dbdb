"""OCR lines and other extracted text to detector input, and findings back to the regions they came from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.detection import scan_text


@dataclass(frozen=True, slots=True)
class Box:
    """A pixel rectangle of the page it was read from: left, top, right, bottom."""

    left: int
    top: int
    right: int
    bottom: int

    def union(self, other: Box) -> Box:
        return Box(min(self.left, other.left), min(self.top, other.top), max(self.right, other.right), max(self.bottom, other.bottom))

    def to_json(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]


@dataclass(frozen=True, slots=True)
class TextBlock:
    """One piece of extracted text: an OCR line, a QR payload, a PDF page's text layer, a document."""

    text: str
    source: str  # ocr, qr, pdf-text, text
    page: int = 0
    box: Box | None = None


@dataclass(frozen=True)
class TextDocument:
    """Blocks joined into one text for the detector, with each block's start offset."""

    text: str
    blocks: tuple[TextBlock, ...]
    starts: tuple[int, ...]

    def blocks_between(self, start: int, end: int) -> list[TextBlock]:
        """The blocks a span of ``text`` touches."""
        return [b for b, s in zip(self.blocks, self.starts, strict=True) if s < end and start < s + len(b.text)]


@dataclass(frozen=True, slots=True)
class RegionFinding:
    """A finding in an attachment: kind, value, the text matched, page and region (None: the whole page)."""

    kind: str
    value: str
    match: str
    score: float
    page: int
    box: Box | None
    source: str
    detector_version: str = ""

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "value": self.value, "match": self.match, "score": round(self.score, 3),
                "page": self.page, "box": self.box.to_json() if self.box else None, "source": self.source,
                "detector_version": self.detector_version}


def clean_line(text: str) -> str:
    """One OCR line as the detector should see it: whitespace runs collapsed, stray edge marks dropped."""
    return " ".join(text.split()).strip("|‘’`'\"").strip()


JOINING_ENDS = ("@", ".", "_", "-", "/")
"""A line ending in one of these continues on the next (an address or link wrapped by hand)."""


def lines_to_document(blocks: Iterable[TextBlock]) -> TextDocument:
    """Join blocks with newlines, or nothing where a wrapped address continues; empty ones dropped."""
    kept: list[TextBlock] = []
    starts: list[int] = []
    parts: list[str] = []
    offset = 0
    for block in blocks:
        text = clean_line(block.text) if block.source == "ocr" else block.text
        if not text.strip():
            continue
        if kept:
            separator = "" if _continues(kept[-1], block, text) else "\n"
            parts.append(separator)
            offset += len(separator)
        kept.append(TextBlock(text, block.source, block.page, block.box))
        starts.append(offset)
        parts.append(text)
        offset += len(text)
    return TextDocument("".join(parts), tuple(kept), tuple(starts))


def _continues(previous: TextBlock, block: TextBlock, text: str) -> bool:
    if previous.source != "ocr" or block.source != "ocr":
        return False
    return previous.text.endswith(JOINING_ENDS) or text.startswith(("@", "."))


def findings_in(document: TextDocument, platform_domains: Sequence[str]) -> list[RegionFinding]:
    """Run the message detector over a document; each finding names the page and region it came from."""
    found: list[RegionFinding] = []
    for finding in scan_text(document.text, platform_domains=platform_domains):
        touched = document.blocks_between(finding.start, finding.end) or list(document.blocks[:1])
        boxes = [b.box for b in touched if b.box is not None]
        box = None
        if boxes and len(boxes) == len(touched):
            box = boxes[0]
            for other in boxes[1:]:
                box = box.union(other)
        found.append(RegionFinding(finding.kind, finding.value, finding.match, finding.score, touched[0].page, box,
                                   touched[0].source, finding.detector_version))
    return found


def scan_blocks(blocks: Sequence[TextBlock], platform_domains: Sequence[str]) -> list[RegionFinding]:
    """Findings of every page's OCR/text blocks read together, and of each QR payload on its own.

    A QR payload is a complete message of its own: joined with the page's text, its digits could
    pair with unrelated printed ones.
    """
    found: list[RegionFinding] = []
    pages = sorted({b.page for b in blocks})
    for page in pages:
        on_page = [b for b in blocks if b.page == page]
        found += findings_in(lines_to_document(b for b in on_page if b.source != "qr"), platform_domains)
        for code in (b for b in on_page if b.source == "qr"):
            found += findings_in(lines_to_document([code]), platform_domains)
    return _unique(found)


def _unique(found: list[RegionFinding]) -> list[RegionFinding]:
    seen: set[tuple] = set()
    kept = []
    for f in found:
        key = (f.kind, f.value, f.page, f.box)
        if key not in seen:
            seen.add(key)
            kept.append(f)
    return kept
