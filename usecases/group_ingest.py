"""Group commit for single-record ingest: concurrent PUTs in one process share one transaction.

A single ``PUT /v1/messages/{id}`` costs about as many database round trips as a batch of a
hundred (lookup, insert, notification rows, read mark, commit), so one writer per process
gathers the records that arrive while it is busy and applies them together through the same
path as ``POST /v1/batch`` (``importing.ingest``): in arrival order, each record answered on
its own (created, updated, unchanged, or its own error), the doorbell rung after the commit.

Guarantees, the same as one request at a time:

- nothing is answered before the transaction holding it committed;
- a record that fails (invalid, dangling reference, conflict) fails alone: ``apply_records``
  gives it its own savepoint, and when the commit itself fails every record of the group is
  tried again in a transaction of its own, so one record's failure is only its own;
- records of one group are applied in arrival order, so a repeat of an id answers as it would
  after the first (unchanged or conflict).

The writer takes whatever waited while it was busy (at most ``max_records``). When the last
group held more than one record (requests are arriving together), it first waits ``linger``
(2 ms) for more: a transaction's fixed cost shared by more records costs less CPU a record
(bench/api_bench.py: 8 instead of 4.5 records a transaction, web CPU a PUT 1.45 -> 1.15 ms).
A request that follows a lone one never waits (the first one after a burst may wait once).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from usecases import importing

log = logging.getLogger(__name__)

MAX_RECORDS = 64
"""Records a group holds at most (a PUT body is at most 1 MiB, so a group stays bounded)."""


LINGER = 0.002
"""Seconds the writer waits for more records when the last group had several (requests arrive together)."""
REPORT_EVERY = 1000
"""Records between two log lines saying how well requests share transactions."""


def _now() -> datetime:
    return datetime.now(UTC)


def ingest_group(app, objects: list[object], now: datetime) -> list[importing.RecordOutcome | BaseException]:
    """Apply independent records (one request each) in one transaction; one outcome (or exception) each.

    When the group's transaction fails as a whole (its commit refused, a lost connection, an
    unexpected error), each record is applied again alone, so the failure lands only on the
    record(s) that cause it.
    """
    try:
        return list(importing.ingest(app, objects, now))
    except Exception as exc:  # noqa: BLE001 - re-tried one by one below; a single record's own error is its answer
        if len(objects) == 1:
            return [exc]
        log.warning("a group of %d records failed as a whole (%s); applying them one by one", len(objects),
                    type(exc).__name__)
    outcomes: list[importing.RecordOutcome | BaseException] = []
    for obj in objects:
        try:
            (outcome,) = importing.ingest(app, [obj], now)
        except Exception as exc:  # noqa: BLE001 - handed to that record's request
            outcomes.append(exc)
        else:
            outcomes.append(outcome)
    return outcomes


class GroupIngest:
    """One process's writer: ``await submit(record)`` answers that record once its group committed."""

    def __init__(self, app, *, max_records: int = MAX_RECORDS, linger: float = LINGER, settle_passes: int = 3,
                 clock: Callable[[], datetime] = _now) -> None:
        self.app = app
        self.settle_passes = settle_passes
        self.max_records = max_records
        self.linger = linger
        self.clock = clock
        self._pending: deque[tuple[object, asyncio.Future]] = deque()
        self._writer: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_group = 0
        self.groups = 0
        """Groups written so far (for tests and the benchmark's curiosity)."""
        self.records = 0

    async def submit(self, record: object) -> importing.RecordOutcome:
        """Queue one API record (a dict as ``importing.ingest`` takes it) and wait for its outcome."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A new event loop (tests that start and stop loops): what belonged to the old one is gone.
            self._loop, self._writer, self._pending = loop, None, deque()
        answer = loop.create_future()
        self._pending.append((record, answer))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write())
        return await answer

    async def _write(self) -> None:
        while self._pending:
            # Let the event loop parse requests whose bytes already arrived (no timer, no added wait
            # when nothing else is coming): a few passes while the queue still grows.
            for _ in range(self.settle_passes):
                seen = len(self._pending)
                await asyncio.sleep(0)
                if len(self._pending) == seen or len(self._pending) >= self.max_records:
                    break
            if self.linger and self._last_group > 1 and len(self._pending) < self.max_records:
                # Requests are arriving together: wait a moment for the rest of them, since a
                # transaction's fixed cost (about a dozen round trips and the commit's WAL flush)
                # shared by more records costs less CPU a record. After a lone request, nobody waits.
                await asyncio.sleep(self.linger)
            group: list[tuple[object, asyncio.Future]] = []
            while self._pending and len(group) < self.max_records:
                record, answer = self._pending.popleft()
                if not answer.done():  # a request cancelled (client gone) before its group started is not applied
                    group.append((record, answer))
            if not group:
                continue
            try:
                outcomes = await asyncio.to_thread(ingest_group, self.app, [record for record, _ in group], self.clock())
            except BaseException as exc:  # noqa: BLE001 - every waiting request learns it; the writer stops
                # Only cancellation (shutdown) gets here: ingest_group answers every Exception per record.
                failure = exc if isinstance(exc, Exception) else RuntimeError("the writer was stopped")
                for _, answer in [*group, *self._pending]:
                    if not answer.done():
                        answer.set_exception(failure)
                self._pending.clear()
                raise
            self.groups += 1
            self.records += len(group)
            self._last_group = len(group)
            if self.records // REPORT_EVERY != (self.records - len(group)) // REPORT_EVERY:
                log.info("group commit: %d records in %d transactions so far (%.1f a transaction)", self.records,
                         self.groups, self.records / self.groups)
            for (_, answer), outcome in zip(group, outcomes, strict=True):
                if answer.done():
                    continue  # its request went away meanwhile; the record is stored all the same
                if isinstance(outcome, BaseException):
                    answer.set_exception(outcome)
                else:
                    answer.set_result(outcome)
