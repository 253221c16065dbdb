"""Scanning: detect off-platform contact in new messages, store findings and open review items.

One batch is one transaction: masked bodies, findings and the review items they open are
committed together, so a finding never exists without its review item nor the reverse.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from pipeline.detection import Finding, Span, mask_text, scan_text
from pipeline.detection.advice import advice_for
from pipeline.detection.conversation import context_findings
from storage import scanning as store
from storage.db import is_deadlock, transaction
from usecases import detecting
from usecases.app import App
from usecases.detecting import WINDOW
from usecases.review import open_items_for_findings

BATCH_SIZE = 200
"""Messages per doorbell ring (one worker transaction)."""
PENDING_BATCH_SIZE = BATCH_SIZE
"""Messages per transaction in ``scan_pending`` (``run --once``). As large as a worker's batch on
purpose: which messages are new together decides which overlapping split findings are kept (a wider
one covers a narrower one only within one batch), so a larger batch would store a few findings
fewer than the worker path and the fault benchmark's reference (1,000: about 2% fewer on
bench/run_once_bench.py's corpus, for 28% less CPU)."""
CONTEXT_BEFORE = 2 * WINDOW
"""Earlier messages detection reads before a conversation's first new message (``context_findings``'s stretch)."""
DEADLOCK_RETRIES = 3
CATCH_UP_AGE = timedelta(seconds=10)
T = TypeVar("T")
"""A message unscanned this long after it was recorded is presumed lost by the broker."""


def ring_for_lost(app: App, now: datetime) -> int:
    """Ring the doorbell again for every message still unscanned ``CATCH_UP_AGE`` after it was recorded."""
    with app.session_factory() as session:
        ids = store.unscanned_ids(session, limit=100_000, recorded_before=now - CATCH_UP_AGE)
    # Messages whose ring still waits in the queue (workers busy or down) are not rung again,
    # so an outage does not grow the queue by one copy per sweep.
    waiting = getattr(app.doorbell, "scans_waiting", None)
    if waiting is not None and ids:
        queued = waiting(ids)
        ids = [i for i in ids if i not in queued]
    ring_for(app, ids)
    return len(ids)


def ring_for(app: App, message_ids: Sequence[int]) -> None:
    """Ring the doorbell for committed messages, one ring per batch."""
    ids = list(message_ids)
    for start in range(0, len(ids), BATCH_SIZE):
        app.doorbell.scan(ids[start : start + BATCH_SIZE])


def scan_batch(app: App, message_ids: Sequence[int], now: datetime, one_by_one: bool = False) -> dict[str, int]:
    """Load → detect → store for one batch, in one transaction; returns counts.

    Review items are opened set-based (``open_items_for_findings``); ``one_by_one`` opens them
    incident by incident instead, the reference the equivalence test compares with.

    Two workers scanning neighbouring messages of one conversation can deadlock (each re-masks
    a message the other holds, a detail split between their batches); PostgreSQL rolls one
    back, and it is retried here at once rather than after the broker's backoff.
    """
    return retrying_deadlocks(lambda: _scan_batch(app, message_ids, now, one_by_one))


def retrying_deadlocks(write: Callable[[], T]) -> T:
    """``write()``, run again at once (up to ``DEADLOCK_RETRIES`` times) when PostgreSQL chose it as a deadlock's victim."""
    for attempt in range(DEADLOCK_RETRIES + 1):
        try:
            return write()
        except Exception as exc:
            if attempt == DEADLOCK_RETRIES or not is_deadlock(exc):
                raise
    raise AssertionError("unreachable")


def _scan_batch(app: App, message_ids: Sequence[int], now: datetime, one_by_one: bool) -> dict[str, int]:
    with transaction(app.session_factory) as session:
        batch, context = store.read_batch(session, message_ids, CONTEXT_BEFORE)
        detected = detect(batch, context, tuple(app.settings.platform_domains))
        new_findings, review_items = store_detected(session, app, detected, now, one_by_one)
    ring_after(app, review_items)
    return {"messages": len(batch), "findings": len(new_findings), "review_items": len(review_items)}


@dataclass(frozen=True)
class Detected:
    """What detection made of one batch, ready to store: plain data, so another process can make it."""

    ids: tuple[int, ...]  # the batch's messages, in load order
    masked: dict[int, str]  # each new message's masked body
    records: list[store.FindingRecord]
    remasked: dict[int, str]  # messages a split finding touches, masked again with their parts of it
    unchanged: frozenset[int] = frozenset()  # new messages whose masked body is their body (nothing to mask)


def detect(
    batch: Sequence[store.ScannableMessage], context: dict[int, list[store.ScannableMessage]], domains: tuple[str, ...]
) -> Detected:
    """Each new message alone, then what its conversation reveals with it (pure: no database)."""
    new_ids = {m.id for m in batch}
    return joined(batch, [detecting.detect_conversation(cid, conversation_input(messages, new_ids), domains)
                          for cid, messages in context.items()], domains)


def conversation_input(messages: Sequence[store.ScannableMessage], new_ids: set[int]) -> list[detecting.Message]:
    """One conversation's stretch as ``usecases.detecting`` takes it: ``(id, role, body, new)`` tuples."""
    return [(m.id, m.role, m.body, m.id in new_ids) for m in messages]


def joined(batch: Sequence[store.ScannableMessage], found: Sequence[detecting.Found], domains: tuple[str, ...]) -> Detected:
    """The batch's ``Detected`` from its conversations' results (in context order), in the one-batch order.

    Records: every new message's own, in batch order, then each conversation's split ones; masked
    bodies in batch order, a message whose masked body is its body stored as it is.
    """
    own = {entry[0]: entry for f in found for entry in f.alone}
    masked: dict[int, str] = {}
    unchanged: set[int] = set()
    records: list[store.FindingRecord] = []
    for m in batch:
        # A message outside every given stretch (not so in the stage: its stretch holds it) is read alone.
        _, body, records_of = own[m.id] if m.id in own else detecting.detect_alone(m.conversation_id, m.id, m.body, domains)
        if body is None:
            unchanged.add(m.id)
        masked[m.id] = m.body if body is None else body
        records += [store.FindingRecord(*r) for r in records_of]
    records += [store.FindingRecord(*r) for f in found for r in f.split]
    remasked = {mid: body for f in found for mid, body in f.remasked}
    return Detected(tuple(m.id for m in batch), masked, records, remasked, frozenset(unchanged))


def store_detected(session, app: App, detected: Detected, now: datetime, one_by_one: bool) -> tuple[list[int], list]:
    """Masked bodies, findings and the review items they open, in the caller's transaction."""
    # A detail split over messages is masked in each part, including parts scanned earlier.
    masked = {**detected.masked, **{mid: body for mid, body in detected.remasked.items() if mid in detected.masked}}
    # The batch's rows are locked by the caller (read_batch or lock_unscanned, in this transaction).
    stored = store.store_scans(session, masked, detected.records, now, detected.unchanged - detected.remasked.keys(), locked=True)
    store.replace_masked(session, {mid: body for mid, body in detected.remasked.items() if mid not in masked})
    # Same transaction: a finding is never stored without its review item, nor the reverse.
    new_findings = [finding.id for finding in stored]
    review_items = open_items_for_findings(session, new_findings, app.settings, now, one_by_one=one_by_one, new_findings=stored)
    return new_findings, review_items


def ring_after(app: App, review_items: list) -> None:
    """After the commit: hand on what new review items queued (staff alerts, webhook events)."""
    if review_items:
        # Committed: staff alerts and message.flagged events go out now, not at the next sweep.
        app.doorbell.deliver_webhooks()
        app.doorbell.deliver_mail()


def scan_pending(app: App, now: datetime, one_by_one: bool = False) -> dict[str, int]:
    """Scan every unscanned message, batch after batch (the `run --once` stage).

    With ``settings.scan_processes`` above 1 (or "auto" and a backlog of ``AUTO_BACKLOG`` on
    several cores: ``auto_processes``), detection runs in that many processes while this one reads
    and writes (``usecases.scan_processes``); the batches and what is stored are the same.

    Not done: detecting the next batch in a helper thread of this process while this one is
    written. Tried (branch s5-scanstage): 16.3–16.9 s of CPU instead of 13.6–13.8 s for
    bench/scan_stage_bench.py's 20,000 messages, and a longer wall time — the detection thread
    holds the interpreter lock, so every database round trip of the writing thread waits for
    a switch interval to get it back.
    """
    processes = app.settings.scan_processes or auto_processes(app)
    if processes > 1:
        from usecases.scan_processes import scan_pending_in_processes

        return scan_pending_in_processes(app, now, one_by_one, processes)
    totals = {"messages": 0, "findings": 0, "review_items": 0}
    while True:
        with app.session_factory() as session:
            ids = store.unscanned_ids(session, limit=PENDING_BATCH_SIZE)
        if not ids:
            return totals
        counts = scan_batch(app, ids, now, one_by_one)
        if counts["messages"] == 0:
            return totals
        for key, value in counts.items():
            totals[key] += value


AUTO_BACKLOG = 2_000
"""Unscanned messages from which ``PEERGUARD_SCAN_PROCESSES=auto`` (the default) runs detection in
one process per core: below it, starting the processes (about 0.12 s of CPU each) costs about what
they save. Measured on this project's 2-core machine, quiet, bench/run_once_bench.py's 20,000
messages: 2,183 msg/s in one process, 3,550 msg/s with two."""
AUTO_MAX_PROCESSES = 4


def auto_processes(app: App) -> int:
    """Detection processes for ``scan_pending`` when the setting is "auto": one per usable core
    (at most ``AUTO_MAX_PROCESSES``) with a backlog of ``AUTO_BACKLOG`` messages or more, else 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2:
        return 1
    with app.session_factory() as session:
        backlog = len(store.unscanned_ids(session, limit=AUTO_BACKLOG))
    return min(cores, AUTO_MAX_PROCESSES) if backlog >= AUTO_BACKLOG else 1


# --- Compose-time check (POST /v1/scan): nothing is stored -------------------------------------


class DraftContextError(LookupError):
    """The conversation or sender named with a draft is unknown, or the sender is not a participant."""


@dataclass(frozen=True)
class DraftCheck:
    """What the detector sees in a draft: findings with spans in the draft, masked text, advice.

    ``split`` holds the findings that also need earlier messages of the conversation; their spans
    are reduced to the draft's own part, which is what the sender can change.
    """

    findings: tuple[Finding, ...]
    split: tuple[Finding, ...]
    masked: str
    advice: str | None


def check_draft(app: App, text: str, conversation: str | None = None, sender: str | None = None) -> DraftCheck:
    """Scan a message before it is sent, with the conversation's recent messages when given."""
    single = scan_text(text, platform_domains=app.settings.platform_domains)
    split = _split_with_recent(app, text, conversation, sender) if conversation is not None else []
    found = single + split
    return DraftCheck(tuple(single), tuple(split), mask_text(text, found), advice_for(found))


WARM_UP_DRAFTS = ("call me at four one five 555 0123 or text me on whatsapp, pay by zelle to greg@example.com",
                  "Is the 1 oz Gold Eagle still available? I can pay $2,150 shipped.")


def warm_up(app: App) -> None:
    """Compile and load the detectors (and the split-message window) before the first draft needs them."""
    for text in WARM_UP_DRAFTS:
        found = scan_text(text, platform_domains=app.settings.platform_domains)
        mask_text(text, found)
        advice_for(found)
    context_findings([("buyer", "my number is four one five"), ("buyer", "555 0123")], [1],
                     platform_domains=app.settings.platform_domains, window=WINDOW)


def _split_with_recent(app: App, text: str, conversation: str, sender: str | None) -> list[Finding]:
    with app.session_factory() as session:
        recent = store.recent_messages(session, conversation, 2 * WINDOW)
        role = store.participant_role(session, conversation, sender) if sender else None
    if recent is None:
        raise DraftContextError(f"unknown conversation {conversation!r}")
    if sender and role is None:
        raise DraftContextError(f"{sender!r} is not a participant of {conversation!r}")
    # Without a named sender the draft most likely continues the last message's side of the chat.
    role = role or (recent[-1].role if recent else "buyer")
    messages = [(m.role, m.body) for m in recent] + [(role, text)]
    draft = len(messages) - 1
    found = context_findings(messages, [draft], platform_domains=app.settings.platform_domains, window=WINDOW)
    return [_in_draft(finding, draft) for finding in found if any(span.message == draft for span in finding.spans)]


def _in_draft(finding: Finding, draft: int) -> Finding:
    spans = tuple(Span(span.start, span.end) for span in finding.spans if span.message == draft)
    return replace(finding, spans=spans, messages=())
