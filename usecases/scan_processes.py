"""`run --once`'s scan stage on several cores: detection in worker processes, the database here.

Detection (``usecases.detecting``) is pure and takes most of the stage's CPU; reading and writing
stay in this process and in order, because which messages are new together decides which split
findings are kept, and a batch's review items may join the items of the batches before it. So
this process reads batches ahead and hands each to the detection processes, and writes the
results back one batch a transaction in the one-process loop's order: the same batches
(``unscanned_ids`` read once for several, cut into ``PENDING_BATCH_SIZE``), each written after
locking its rows. If the lock returns other rows than were read (another scanner took some
meanwhile), that batch is read and detected again here from what the lock returned.

Each detection process answers for a fixed share of the conversations (conversation id modulo
the number of processes), so a conversation's readings remembered in that process
(``detecting._Memory``) serve its next batches: handed out to whichever process was free, a
conversation's next message was read again by the other process (62–67 % more number-piece and
kept-range readings with two processes on the bench corpus). A batch's conversations are split
between the processes and their results joined back in the one-process order
(``scanning.joined``). The processes run ``python -m usecases.detecting``: the detectors only,
no SQLAlchemy or models to import, and no re-import of the command's main module (what a
``multiprocessing`` spawn does); messages go as ``(id, role, body, new)`` tuples, results as
tuples with a masked body only where it differs from the body.

A message recorded between a batch's read and its write with an earlier ``sent_at`` (a late
message of the same conversation) is not part of that batch's context; the one-process loop
has the same race one statement later, and that message's own scan sees the batch's messages.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from storage import scanning as store
from storage.db import transaction
from usecases import detecting, scanning
from usecases.app import App

LOOKAHEAD_BATCHES = 8
"""Batches read ahead (ids in one query, then each batch's messages and context)."""
_CODE = str(Path(__file__).resolve().parents[1])
"""The checkout this module runs from: the detection processes import the same code."""


def scan_pending_in_processes(app: App, now: datetime, one_by_one: bool = False, processes: int | None = None) -> dict[str, int]:
    """``scanning.scan_pending`` with detection in ``processes`` processes (default: ``app.settings.scan_processes``, else 2)."""
    totals = {"messages": 0, "findings": 0, "review_items": 0}
    with Detectors(processes or app.settings.scan_processes or 2) as detectors:
        while True:
            with app.session_factory() as session:
                ids = store.unscanned_ids(session, limit=scanning.PENDING_BATCH_SIZE * LOOKAHEAD_BATCHES)
            if not ids:
                return totals
            counts = _scan_ahead(app, detectors, ids, now, one_by_one)
            if counts["messages"] == 0:
                return totals
            _add(totals, counts)


class Detectors:
    """``count`` detection processes, each answering in order for the conversations whose id modulo ``count`` is its number.

    Requests are written by one thread per process, so this process never blocks on a full pipe
    while a detection process waits for its answer to be read.
    """

    def __init__(self, count: int) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (_CODE, os.environ.get("PYTHONPATH")) if p)}
        self.processes: list[subprocess.Popen] = []
        self.outboxes: list[queue.SimpleQueue] = []
        self.writers: list[threading.Thread] = []
        try:
            for _ in range(count):
                process = subprocess.Popen([sys.executable, "-m", "usecases.detecting"], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, env=env)
                outbox: queue.SimpleQueue = queue.SimpleQueue()
                writer = threading.Thread(target=_write_requests, args=(process.stdin, outbox), daemon=True)
                writer.start()
                self.processes.append(process)
                self.outboxes.append(outbox)
                self.writers.append(writer)
        except BaseException:
            self.close()
            raise

    def submit(self, domains: tuple[str, ...], context: dict[int, list[store.ScannableMessage]], new_ids: set[int]) -> None:
        """Hand each process its share of one batch (every process gets a request, maybe empty, so answers stay in step)."""
        shares: list[list] = [[] for _ in self.processes]
        for cid, messages in context.items():
            shares[cid % len(shares)].append((cid, scanning.conversation_input(messages, new_ids)))
        for outbox, share in zip(self.outboxes, shares, strict=True):
            outbox.put(pickle.dumps((domains, share), protocol=pickle.HIGHEST_PROTOCOL))

    def results(self, context: dict[int, list[store.ScannableMessage]]) -> list[detecting.Found]:
        """The answers to the oldest batch submitted, in its context's conversation order."""
        found: dict[int, detecting.Found] = {}
        for process in self.processes:
            try:
                answer = detecting.receive(process.stdout)
            except EOFError:
                raise RuntimeError(f"a detection process stopped (exit status {process.poll()})") from None
            found.update((f.conversation_id, f) for f in answer)
        return [found[cid] for cid in context]

    def close(self) -> None:
        for outbox in self.outboxes:
            outbox.put(None)
        for writer in self.writers:
            writer.join(timeout=5)
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()

    def __enter__(self) -> Detectors:
        return self

    def __exit__(self, *exc_info) -> None:
        if exc_info[0] is not None:  # an answer may never come: do not wait for it
            for process in self.processes:
                process.kill()
        self.close()


def _write_requests(stdin, outbox: queue.SimpleQueue) -> None:
    try:
        while (data := outbox.get()) is not None:
            stdin.write(len(data).to_bytes(8, "little") + data)
            stdin.flush()
    except (BrokenPipeError, OSError):
        pass  # the process died; results() says so
    finally:
        try:
            stdin.close()
        except OSError:
            pass


def _scan_ahead(app: App, detectors: Detectors, ids: list[int], now: datetime, one_by_one: bool) -> dict[str, int]:
    """Scan ``ids`` batch by batch, keeping the detection processes busy with the next batches while one is written."""
    totals = {"messages": 0, "findings": 0, "review_items": 0}
    size = scanning.PENDING_BATCH_SIZE
    domains = tuple(app.settings.platform_domains)
    in_flight: deque[tuple[list[int], list[store.ScannableMessage], dict[int, list[store.ScannableMessage]]]] = deque()
    ahead = len(detectors.processes) + 1
    for start in range(0, len(ids), size):
        batch_ids = ids[start : start + size]
        batch, context = _read(app, batch_ids)
        detectors.submit(domains, context, {m.id for m in batch})
        in_flight.append((batch_ids, batch, context))
        if len(in_flight) > ahead:
            _add(totals, _write(app, detectors, *in_flight.popleft(), now, one_by_one))
    while in_flight:
        _add(totals, _write(app, detectors, *in_flight.popleft(), now, one_by_one))
    return totals


def _read(app: App, ids: Sequence[int]) -> tuple[list[store.ScannableMessage], dict[int, list[store.ScannableMessage]]]:
    """A batch's unscanned messages and their conversations' context, as far back as detection reads.

    Nothing is locked here: this transaction ends at once, and the write locks the rows
    (``lock_unscanned``) and reads again whatever changed hands meanwhile.
    """
    with app.session_factory() as session:
        return store.read_batch(session, ids, scanning.CONTEXT_BEFORE, lock=False)


def _write(app: App, detectors: Detectors, ids: list[int], batch: list[store.ScannableMessage],
           context: dict[int, list[store.ScannableMessage]], now: datetime, one_by_one: bool) -> dict[str, int]:
    domains = tuple(app.settings.platform_domains)
    detected = scanning.joined(batch, detectors.results(context), domains)

    def write() -> dict[str, int]:
        with transaction(app.session_factory) as session:
            found, count = detected, len(detected.ids)
            if store.lock_unscanned(session, ids) != detected.ids:
                locked, context = store.read_batch(session, ids, scanning.CONTEXT_BEFORE)
                found, count = scanning.detect(locked, context, domains), len(locked)
            new_findings, review_items = scanning.store_detected(session, app, found, now, one_by_one)
        scanning.ring_after(app, review_items)
        return {"messages": count, "findings": len(new_findings), "review_items": len(review_items)}

    return scanning.retrying_deadlocks(write)


def _add(totals: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        totals[key] += value
