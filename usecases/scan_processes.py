"""`run --once`'s scan stage on several cores: detection in worker processes, the database here.

Detection (``scanning.detect``) is pure and takes most of the stage's CPU; reading and writing
stay in this process and in order, because which messages are new together decides which split
findings are kept, and a batch's review items may join the items of the batches before it. So
this process reads batches ahead and hands each to the pool, and writes the results back one
batch a transaction in the one-process loop's order: the same batches (``unscanned_ids`` read
once for several, cut into ``PENDING_BATCH_SIZE``), each written after locking its rows. If the
lock returns other rows than were read (another scanner took some meanwhile), that batch is
detected again here from what the lock returned.

A message recorded between a batch's read and its write with an earlier ``sent_at`` (a late
message of the same conversation) is not part of that batch's context; the one-process loop
has the same race one statement later, and that message's own scan sees the batch's messages.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime

from storage import scanning as store
from storage.db import transaction
from usecases import scanning
from usecases.app import App

LOOKAHEAD_BATCHES = 8
"""Batches read ahead (ids in one query, then each batch's messages and context)."""


def scan_pending_in_processes(app: App, now: datetime, one_by_one: bool = False) -> dict[str, int]:
    """``scanning.scan_pending`` with detection in ``app.settings.scan_processes`` processes."""
    totals = {"messages": 0, "findings": 0, "review_items": 0}
    domains = tuple(app.settings.platform_domains)
    # spawn: a forked child would share this process's database connections and threads.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(app.settings.scan_processes, mp_context=spawn, initializer=_warm, initargs=(domains,)) as pool:
        while True:
            with app.session_factory() as session:
                ids = store.unscanned_ids(session, limit=scanning.PENDING_BATCH_SIZE * LOOKAHEAD_BATCHES)
            if not ids:
                return totals
            counts = _scan_ahead(app, pool, ids, now, one_by_one)
            if counts["messages"] == 0:
                return totals
            for key, value in counts.items():
                totals[key] += value


def _scan_ahead(app: App, pool: ProcessPoolExecutor, ids: list[int], now: datetime, one_by_one: bool) -> dict[str, int]:
    """Scan ``ids`` batch by batch, keeping the pool busy with the next batches while one is written."""
    totals = {"messages": 0, "findings": 0, "review_items": 0}
    size = scanning.PENDING_BATCH_SIZE
    in_flight: deque[tuple[list[int], Future[scanning.Detected]]] = deque()
    ahead = app.settings.scan_processes + 1
    for start in range(0, len(ids), size):
        batch_ids = ids[start : start + size]
        in_flight.append((batch_ids, pool.submit(scanning.detect, *_read(app, batch_ids))))
        if len(in_flight) > ahead:
            _add(totals, _write(app, *in_flight.popleft(), now, one_by_one))
    while in_flight:
        _add(totals, _write(app, *in_flight.popleft(), now, one_by_one))
    return totals


def _read(app: App, ids: Sequence[int]) -> tuple[list[store.ScannableMessage], dict[int, list[store.ScannableMessage]], tuple[str, ...]]:
    """A batch's unscanned messages and their conversations' context, as far back as detection reads."""
    with app.session_factory() as session:
        batch = store.load_messages(session, ids)
        context = store.conversation_context(session, batch, scanning.CONTEXT_BEFORE)
    return batch, context, tuple(app.settings.platform_domains)


def _write(app: App, ids: list[int], detecting: Future[scanning.Detected], now: datetime, one_by_one: bool) -> dict[str, int]:
    detected = detecting.result()
    domains = tuple(app.settings.platform_domains)

    def write() -> dict[str, int]:
        with transaction(app.session_factory) as session:
            batch = store.load_messages(session, ids)
            found = detected
            if tuple(m.id for m in batch) != detected.ids:
                found = scanning.detect(batch, store.conversation_context(session, batch, scanning.CONTEXT_BEFORE), domains)
            new_findings, review_items = scanning.store_detected(session, app, found, now, one_by_one)
        scanning.ring_after(app, review_items)
        return {"messages": len(batch), "findings": len(new_findings), "review_items": len(review_items)}

    return scanning.retrying_deadlocks(write)


def _add(totals: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        totals[key] += value


def _warm(domains: tuple[str, ...]) -> None:
    """Compile the detectors in each pool process before its first batch."""
    from pipeline.detection import scan_text
    from pipeline.detection.conversation import context_findings

    for text in scanning.WARM_UP_DRAFTS:
        scan_text(text, platform_domains=domains)
    context_findings([("buyer", "my number is four one five"), ("buyer", "555 0123")], [1], platform_domains=domains)
