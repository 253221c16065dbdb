"""Masked copies of messages for the marketplace to show: identifiers replaced by a label."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.detection.findings import Finding, Span

# Intent phrases ("text me") carry no identifier; masking them would only garble the message.
MASKED_KINDS = frozenset({"phone", "email", "url", "handle", "payment"})


def mask_text(text: str, findings: Sequence[Finding], *, message: int | None = None) -> str:
    """Return ``text`` with every identifier span replaced by e.g. "[phone removed]"."""
    spans = sorted(
        (span, finding.kind)
        for finding in findings
        if finding.kind in MASKED_KINDS
        for span in finding.spans
        if span.message == message or (message is None and span.message is None)
    )
    pieces: list[str] = []
    cursor = 0
    for span, kind in _merge(spans):
        pieces.append(text[cursor : span.start])
        pieces.append(f"[{kind} removed]")
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def mask_conversation(texts: Sequence[str], findings: Sequence[Finding]) -> list[str]:
    """Return masked copies of each message of a conversation."""
    return [mask_text(text, findings, message=index) for index, text in enumerate(texts)]


def _merge(spans: list[tuple[Span, str]]) -> list[tuple[Span, str]]:
    """Merge overlapping spans, keeping the kind of the first one."""
    merged: list[tuple[Span, str]] = []
    for span, kind in spans:
        if merged and span.start < merged[-1][0].end:
            last, last_kind = merged[-1]
            merged[-1] = (Span(last.start, max(last.end, span.end), last.message), last_kind)
        else:
            merged.append((span, kind))
    return merged
