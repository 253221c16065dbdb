"""A scan batch rolled back by PostgreSQL's deadlock detector is retried at once; other errors are not."""

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError

from usecases import scanning


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _failing(times: int, sqlstate: str, calls: list):
    def attempt(app, message_ids, now, one_by_one):
        calls.append(list(message_ids))
        if len(calls) <= times:
            raise OperationalError("UPDATE messages …", {}, _Orig(sqlstate))
        return {"messages": len(message_ids), "findings": 0, "review_items": 0}
    return attempt


def test_a_deadlock_is_retried_at_once(monkeypatch):
    calls: list = []
    monkeypatch.setattr(scanning, "_scan_batch", _failing(2, "40P01", calls))
    assert scanning.scan_batch(None, [1, 2, 3], datetime.now(UTC)) == {"messages": 3, "findings": 0, "review_items": 0}
    assert calls == [[1, 2, 3]] * 3


def test_retries_are_bounded(monkeypatch):
    calls: list = []
    monkeypatch.setattr(scanning, "_scan_batch", _failing(99, "40P01", calls))
    with pytest.raises(OperationalError):
        scanning.scan_batch(None, [1], datetime.now(UTC))
    assert len(calls) == scanning.DEADLOCK_RETRIES + 1


def test_other_database_errors_are_not_retried(monkeypatch):
    calls: list = []
    monkeypatch.setattr(scanning, "_scan_batch", _failing(1, "57P01", calls))  # admin shutdown: the broker retries
    with pytest.raises(OperationalError):
        scanning.scan_batch(None, [1], datetime.now(UTC))
    assert len(calls) == 1
