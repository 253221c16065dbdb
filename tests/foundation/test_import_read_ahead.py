"""The importer's read-ahead thread: items in order, the producer's error raised in order, an early stop ends it."""

from __future__ import annotations

import itertools
import threading

import pytest

from usecases.importing import _read_ahead


def _helpers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "import-read-ahead"]


def test_items_arrive_in_order_and_the_thread_ends():
    assert list(_read_ahead(iter(range(50)))) == list(range(50))
    assert _helpers() == []


def test_the_producers_error_is_raised_after_the_items_before_it():
    def items():
        yield "first"
        yield "second"
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for item in _read_ahead(items()):
            seen.append(item)
    assert seen == ["first", "second"]
    assert _helpers() == []


def test_closing_early_stops_the_producer():
    produced = itertools.count()
    endless = (next(produced) for _ in itertools.repeat(None))
    reader = _read_ahead(endless)
    assert next(reader) == 0
    reader.close()
    assert _helpers() == []
    assert next(produced) <= 4  # at most the slot and one more were read ahead, not the endless rest
