"""Which messages an evidence excerpt shows: the flagged or chosen ones and their neighbours."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.transcript.document import Gap
from pipeline.transcript.model import TranscriptMessage

Item = tuple[int, TranscriptMessage] | Gap


class UnknownMessage(ValueError):
    """A message id asked for with ``--around`` is not in the conversation."""


def anchor_indexes(messages: Sequence[TranscriptMessage], around_ids: Sequence[str]) -> list[int]:
    """Return the anchors in priority order: chosen messages first, then flagged by top score."""
    positions = {m.external_id: i for i, m in enumerate(messages)}
    missing = [m for m in around_ids if m not in positions]
    if missing:
        raise UnknownMessage(f"message(s) not in this conversation: {', '.join(missing)}")
    chosen = [positions[m] for m in dict.fromkeys(around_ids)]
    flagged = sorted(
        (i for i, m in enumerate(messages) if m.findings and i not in chosen),
        key=lambda i: (-max(f.score for f in messages[i].findings), i),
    )
    anchors = chosen + flagged
    # With nothing flagged or chosen, the end of the conversation is where disputes usually are.
    return anchors or ([len(messages) - 1] if messages else [])


def excerpt_items(messages: Sequence[TranscriptMessage], anchors: Sequence[int], context: int) -> list[Item]:
    """Return the shown messages in order, with a Gap wherever messages were left out."""
    shown = sorted({
        i for a in anchors for i in range(max(0, a - context), min(len(messages), a + context + 1))
    })
    items: list[Item] = []
    previous = -1
    for index in shown:
        if index > previous + 1:
            items.append(Gap(index - previous - 1, messages[previous + 1], messages[index - 1]))
        items.append((index, messages[index]))
        previous = index
    if messages and previous < len(messages) - 1:
        items.append(Gap(len(messages) - 1 - previous, messages[previous + 1], messages[-1]))
    return items


def shrinking_attempts(anchor_count: int, context: int) -> list[tuple[int, int]]:
    """Return (anchors kept, context) pairs to try, largest excerpt first, until one fits."""
    attempts = [(anchor_count, c) for c in range(context, -1, -1)]
    kept = anchor_count // 2
    while kept >= 1:
        attempts.append((kept, 0))
        kept //= 2
    return attempts
