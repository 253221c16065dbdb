"""Findings as highlighted pieces of a message for the staff console, masked or in the clear.

Pure: a message text and its finding spans in, a list of ``Piece`` out; the template wraps the
flagged pieces in ``<mark>``. Masked, a flagged piece shows only its kind, so a reviewer sees
where and what was found without reading the number or address until they ask to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MASK = "•••"


@dataclass(frozen=True)
class Piece:
    """A run of text; ``kind`` names the finding it belongs to (None for ordinary text)."""

    text: str
    kind: str | None = None


def pieces(text: str, spans: Iterable[tuple[int, int, str]], masked: bool) -> list[Piece]:
    """``text`` cut at its findings' spans (overlaps merged, the first kind kept), each flagged piece masked if asked."""
    merged: list[list] = []
    for start, end, kind in sorted((max(0, s), min(len(text), e), k) for s, e, k in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, kind])
    out: list[Piece] = []
    cursor = 0
    for start, end, kind in merged:
        if start > cursor:
            out.append(Piece(text[cursor:start]))
        out.append(Piece(f"{MASK} {kind} {MASK}" if masked else text[start:end], kind))
        cursor = end
    if cursor < len(text) or not out:
        out.append(Piece(text[cursor:]))
    return out
