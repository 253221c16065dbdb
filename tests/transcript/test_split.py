"""How a long conversation is cut into parts for parallel rendering."""

from __future__ import annotations

from pipeline.transcript import TranscriptOptions
from pipeline.transcript.render import split_items
from tests.transcript.factories import message


def _items(count: int):
    return list(enumerate(message(i, "x") for i in range(count)))


def test_short_conversations_render_in_one_part() -> None:
    assert len(split_items(_items(149), TranscriptOptions())) == 1


def test_long_conversations_give_each_worker_two_parts_at_least() -> None:
    parts = split_items(_items(1000), TranscriptOptions(workers=2))
    assert len(parts) == 4 and [len(p) for p in parts] == [250] * 4


def test_parts_never_exceed_the_part_size_and_keep_order() -> None:
    items = _items(10_000)
    parts = split_items(items, TranscriptOptions(workers=2, messages_per_part=500))
    assert max(len(p) for p in parts) <= 500
    assert [i for part in parts for i, _ in part] == list(range(10_000))


def test_a_long_conversation_is_cut_into_parts_of_at_most_250_by_default() -> None:
    parts = split_items(_items(10_000), TranscriptOptions())
    assert len(parts) == 40 and max(len(p) for p in parts) == 250
