"""Scanning: detect off-platform contact in new messages, store findings and open review items.

One batch is one transaction: masked bodies, findings and the review items they open are
committed together, so a finding never exists without its review item nor the reverse.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from pipeline.detection import Finding, Span, mask_text, scan_text
from pipeline.detection.advice import advice_for
from pipeline.detection.assembly import kept_piece, kept_ranges, number_pieces
from pipeline.detection.conversation import Readings, Scanner, context_findings
from pipeline.detection.masking import MASKED_KINDS
from pipeline.notices import redact
from storage import scanning as store
from storage.db import is_deadlock, transaction
from usecases.app import App
from usecases.review import open_items_for_findings

BATCH_SIZE = 200
"""Messages per doorbell ring (one worker transaction)."""
PENDING_BATCH_SIZE = BATCH_SIZE
"""Messages per transaction in ``scan_pending`` (``run --once``). As large as a worker's batch on
purpose: which messages are new together decides which overlapping split findings are kept (a wider
one covers a narrower one only within one batch), so a larger batch would store a few findings
fewer than the worker path and the fault benchmark's reference (1,000: about 2% fewer on
bench/run_once_bench.py's corpus, for 28% less CPU)."""
WINDOW = 6
"""Messages looked at together for attempts split across consecutive messages."""
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
        batch = store.load_messages(session, message_ids)
        detected = detect(batch, store.conversation_context(session, batch, CONTEXT_BEFORE), tuple(app.settings.platform_domains))
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


def detect(
    batch: Sequence[store.ScannableMessage], context: dict[int, list[store.ScannableMessage]], domains: tuple[str, ...]
) -> Detected:
    """Each new message alone, then what its conversation reveals with it (pure: no database)."""
    alone = {m.id: scan_text(m.body, platform_domains=domains) for m in batch}
    masked = {m.id: mask_text(m.body, alone[m.id]) for m in batch}
    records = [_record("message", m.conversation_id, f, [m.id]) for m in batch for f in alone[m.id]]
    new_ids = set(alone)
    remasked: dict[int, str] = {}
    for conversation_id, messages in context.items():
        memo = _MEMORY.take(conversation_id, domains)
        scan = _conversation_scanner(messages, alone, domains, memo.scans)
        split = _split_findings(messages, new_ids, scan, memo)
        records += [_record("conversation", conversation_id, f, [m.id for m in messages]) for f in split]
        remasked.update(_masked_with_split(messages, split, scan))
        _MEMORY.keep(conversation_id, domains, memo, messages[-(2 * WINDOW + 1) :])
    return Detected(tuple(m.id for m in batch), masked, records, remasked)


class _ConversationMemo:
    """What detection read of one conversation's texts: each text alone, its number pieces, its kept ranges.

    All three are pure functions of the text (and the platform domains, part of the memo's key),
    so reusing them gives the same findings; a message is the context of its conversation's next
    messages, which usually come in later batches. Kept per conversation, not per text across
    conversations: a text repeated in many conversations ("Thanks!") is still read in each.
    """

    __slots__ = ("scans", "pieces", "ranges", "kept")

    def __init__(self) -> None:
        self.scans: dict[str, list[Finding]] = {}
        self.pieces: dict[str, list] = {}
        self.ranges: dict[tuple[str, bool], list[tuple[int, int]]] = {}
        self.kept: dict[tuple[str, bool], tuple[str, list[tuple[int, int]]]] = {}

    def pieces_of(self, text: str) -> list:
        found = self.pieces.get(text)
        if found is None:
            found = self.pieces[text] = number_pieces(text)
        return found

    def ranges_of(self, text: str, drop_fillers: bool) -> list[tuple[int, int]]:
        found = self.ranges.get((text, drop_fillers))
        if found is None:
            found = self.ranges[(text, drop_fillers)] = kept_ranges(text, drop_fillers)
        return found

    def kept_of(self, text: str, drop_fillers: bool) -> tuple[str, list[tuple[int, int]]]:
        found = self.kept.get((text, drop_fillers))
        if found is None:
            found = self.kept[(text, drop_fillers)] = kept_piece(text, drop_fillers, self.ranges_of)
        return found

    def trimmed(self, texts: set[str]) -> _ConversationMemo:
        """A copy holding only these texts' readings."""
        kept = _ConversationMemo()
        kept.scans = {t: f for t, f in self.scans.items() if t in texts}
        kept.pieces = {t: p for t, p in self.pieces.items() if t in texts}
        kept.ranges = {k: r for k, r in self.ranges.items() if k[0] in texts}
        kept.kept = {k: r for k, r in self.kept.items() if k[0] in texts}
        return kept


class _Memory:
    """The ``_ConversationMemo`` of the most recently scanned conversations (bounded, least recently used out).

    Each batch takes a conversation's memo out and puts back a copy trimmed to the texts the next
    message's context can reach; threads of one worker process share it under a lock, and a memo
    taken by two threads at once is only read twice.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.memos: OrderedDict[tuple[int, tuple[str, ...]], _ConversationMemo] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, conversation_id: int, domains: tuple[str, ...]) -> _ConversationMemo:
        with self.lock:
            return self.memos.pop((conversation_id, domains), None) or _ConversationMemo()

    def keep(self, conversation_id: int, domains: tuple[str, ...], memo: _ConversationMemo,
             recent: Sequence[store.ScannableMessage]) -> None:
        kept = memo.trimmed({m.body for m in recent})
        with self.lock:
            self.memos[(conversation_id, domains)] = kept
            self.memos.move_to_end((conversation_id, domains))
            while len(self.memos) > self.size:
                self.memos.popitem(last=False)


CONVERSATIONS_REMEMBERED = 10_000
"""Conversations whose recent texts' readings detection keeps (``_Memory``): a few kB each."""
_MEMORY = _Memory(CONVERSATIONS_REMEMBERED)


def store_detected(session, app: App, detected: Detected, now: datetime, one_by_one: bool) -> tuple[list[int], list]:
    """Masked bodies, findings and the review items they open, in the caller's transaction."""
    # A detail split over messages is masked in each part, including parts scanned earlier.
    masked = {**detected.masked, **{mid: body for mid, body in detected.remasked.items() if mid in detected.masked}}
    new_findings = store.save_scans(session, masked, detected.records, now)
    store.replace_masked(session, {mid: body for mid, body in detected.remasked.items() if mid not in masked})
    # Same transaction: a finding is never stored without its review item, nor the reverse.
    review_items = open_items_for_findings(session, new_findings, app.settings, now, one_by_one=one_by_one)
    return new_findings, review_items


def ring_after(app: App, review_items: list) -> None:
    """After the commit: hand on what new review items queued (staff alerts, webhook events)."""
    if review_items:
        # Committed: staff alerts and message.flagged events go out now, not at the next sweep.
        app.doorbell.deliver_webhooks()
        app.doorbell.deliver_mail()


def _conversation_scanner(
    messages: list[store.ScannableMessage], alone: dict[int, list[Finding]], domains: tuple[str, ...],
    known: dict[str, list[Finding]],
) -> Scanner:
    """``scan_text`` for one conversation of the batch, starting from the batch's scans of its new messages.

    Each text is scanned at most once here (a new message alone, then as context; an earlier
    message only when a rule needs it). ``known`` is the conversation's memo of texts scanned
    alone (``_ConversationMemo.scans``), filled here; nothing is remembered across
    conversations: a text repeated in many conversations ("Thanks!") is scanned in each, as
    traffic would make it.
    """
    known.update({m.body: alone[m.id] for m in messages if m.id in alone})

    def scan(text: str) -> list[Finding]:
        found = known.get(text)
        if found is None:
            found = known[text] = scan_text(text, platform_domains=domains)
        return list(found)

    return scan


def _split_findings(messages: list[store.ScannableMessage], new_ids: set[int], scan: Scanner,
                    memo: _ConversationMemo | None = None) -> list[Finding]:
    """What the conversation reveals beyond each new message alone (split attempts, context)."""
    new_indexes = [i for i, m in enumerate(messages) if m.id in new_ids]
    readings = Readings(memo.pieces_of, memo.ranges_of, memo.kept_of) if memo is not None else None
    return context_findings([(m.role, m.body) for m in messages], new_indexes, window=WINDOW, scanner=scan, readings=readings)


def _masked_with_split(messages: list[store.ScannableMessage], split: list[Finding], scan: Scanner) -> dict[int, str]:
    """The masked copy of every message a split finding touches: its own findings' spans plus its parts of the split ones."""
    parts: dict[int, list[tuple[int, int, str]]] = {}
    for finding in split:
        if finding.kind in MASKED_KINDS:
            for span in finding.spans:
                parts.setdefault(span.message or 0, []).append((span.start, span.end, finding.kind))
    remasked: dict[int, str] = {}
    for index, spans in parts.items():
        body = messages[index].body
        own = [(span.start, span.end, f.kind) for f in scan(body)
               if f.kind in MASKED_KINDS for span in f.spans]
        remasked[messages[index].id] = redact(body, own + spans)
    return remasked


def _record(scope: str, conversation_id: int, finding, message_ids: list[int]) -> store.FindingRecord:
    spans = tuple(
        (message_ids[span.message if span.message is not None else 0], span.start, span.end) for span in finding.spans
    )
    return store.FindingRecord(
        conversation_id, scope, finding.kind, finding.value, finding.match, finding.score, finding.detector_version, spans
    )


def scan_pending(app: App, now: datetime, one_by_one: bool = False) -> dict[str, int]:
    """Scan every unscanned message, batch after batch (the `run --once` stage).

    With ``settings.scan_processes`` above 1, detection runs in that many processes while this
    one reads and writes (``usecases.scan_processes``); the batches and what is stored are the same.

    Not done: detecting the next batch in a helper thread of this process while this one is
    written. Tried (branch s5-scanstage): 16.3–16.9 s of CPU instead of 13.6–13.8 s for
    bench/scan_stage_bench.py's 20,000 messages, and a longer wall time — the detection thread
    holds the interpreter lock, so every database round trip of the writing thread waits for
    a switch interval to get it back.
    """
    if app.settings.scan_processes > 1:
        from usecases.scan_processes import scan_pending_in_processes

        return scan_pending_in_processes(app, now, one_by_one)
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
