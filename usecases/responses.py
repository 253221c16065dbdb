"""Responses: keep seller response deadlines in step with messages and queue the notices that fall due.

The database is the source of truth: the sweep finds due work by ``next_due_at``, so a lost or
duplicated doorbell ring costs nothing but one idempotent query. Storage loads and writes; every
decision (which obligations exist, which stage is due, what the email says) is made here.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pipeline.notices import RESPONSE_CONTEXTS, ResponseNoticeFacts, without_conversations
from pipeline.responses import (
    ConversationObligations,
    Delivery,
    ResponseObligation,
    Stage,
    StageDecision,
    decide_stage,
    obligations_from_timeline,
    stage_due_at,
)
from storage import outbox
from storage import responses as store
from storage.db import Session, SessionReader, transaction
from storage.outbox import NoticeRequest
from storage.responses import ConversationTimeline, DeadlineEvent, DeadlineUpdate, DueDeadline, KnownDeadline
from usecases import response_stats, webhooks
from usecases.app import App
from usecases.response_stats import SellerStatsRow

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
ERROR_RETRY = timedelta(minutes=5)
"""A row that failed is looked at again after this long rather than on every sweep."""
NUDGES = (Stage.REMINDER, Stage.FINAL_WARNING)
"""Stages whose unsent email is withdrawn when the seller answers (the breach happened regardless)."""

# Sellers whose invalid time zone has already been reported by this process ("say so once").
_reported_zones: set[tuple[str, str]] = set()


def sweep(app: App, now: datetime) -> dict[str, int]:
    """One idempotent pass: messages → deadlines, then due stages → outbox rows."""
    synced = sync_new_messages(app, now)
    swept = sweep_due(app, now)
    _report_invalid_zones(swept.invalid_zones)
    counts = {f"sync_{k}": v for k, v in synced.items()} | dict(swept.counts)
    if counts.get("breach_events"):
        app.doorbell.deliver_webhooks()
    return {k: v for k, v in counts.items() if v}


def _report_invalid_zones(invalid: dict[str, str]) -> None:
    for seller_id, name in invalid.items():
        if (seller_id, name) not in _reported_zones:
            _reported_zones.add((seller_id, name))
            log.warning("seller %s has an unknown time zone %r; quiet hours use UTC", seller_id, name)


def notice_key(deadline_id: int, stage: Stage) -> str:
    """The outbox idempotency key of a stage's email about one conversation: at most one per deadline and stage."""
    return f"response-deadline:{deadline_id}:{stage.notice}"


def group_key(stage: Stage, seller_external_id: str, deadline_ids: Sequence[int]) -> str:
    """The outbox idempotency key of one email about several of a seller's conversations at one stage.

    Each deadline records each stage exactly once (its row is locked, and the stage is written
    in the same transaction as the email), so a (deadline, stage) pair belongs to one group
    only: naming the group by its smallest deadline id makes the key unique per group, and a
    rerun of the same sweep, which finds those deadlines no longer due, can never queue a second
    one. A group of one keeps the per-deadline key, so an unsent nudge about a single
    conversation is still withdrawn when the seller answers it.
    """
    if len(deadline_ids) == 1:
        return notice_key(deadline_ids[0], stage)
    return f"response-group:{stage.notice}:{seller_external_id}:{min(deadline_ids)}"


def _event(deadline_id: int, at: datetime, kind: str, stage: int | None = None, detail: str | None = None) -> DeadlineEvent:
    return {"deadline_id": deadline_id, "at": at, "kind": kind, "stage": stage, "detail": detail}


# --- Sync: messages → deadlines -----------------------------------------------------------------


def sync_new_messages(app: App, now: datetime, batch_size: int = BATCH_SIZE) -> Counter[str]:
    """Bring deadlines up to date with every message the sync has not seen yet, batch by batch.

    A batch's conversations are recomputed from all their messages, so every message of theirs
    the batch loaded is marked seen with it (not only the batch's own): a conversation whose
    messages spread over many batches is then loaded once, not once per batch.
    """
    totals: Counter[str] = Counter()
    while True:
        with transaction(app.session_factory) as session:
            rows = store.unsynced_messages(session, batch_size)
            if not rows:
                return totals
            timelines = store.load_timelines(session, [c for _, c in rows])
            totals.update(_sync_timelines(app, session, timelines, now))
            seen = {m for m, _ in rows} | {m.message_id for t in timelines for m in t.messages}
            totals["messages"] += store.mark_synced(session, sorted(seen), now)


def sync_conversations(app: App, session: Session, conversation_ids: list[int], now: datetime) -> Counter[str]:
    """Recompute the deadlines of these conversations from all their messages, in ``session``.

    Planned conversation by conversation, written set-based: the new deadlines in one insert
    (an answered one already with its answer), the changed ones in one update per shape, the
    history lines in one insert in the order one by one would have written them.
    """
    return _sync_timelines(app, session, store.load_timelines(session, conversation_ids), now)


def _sync_timelines(app: App, session: Session, timelines: list[ConversationTimeline], now: datetime) -> Counter[str]:
    counts: Counter[str] = Counter()
    plan = _SyncPlan()
    for conversation in timelines:
        computed = obligations_from_timeline(conversation.messages, now)
        if computed.future_message_ids:
            log.warning("conversation %s: %d message(s) are dated in the future; treated as sent now",
                        conversation.external_id, len(computed.future_message_ids),
                        extra={"conversation": conversation.external_id})
        counts.update(_reconcile(app, plan, conversation, computed, now))
    _write_sync(session, plan, now)
    return counts


@dataclass
class _SyncPlan:
    """What a sync batch writes: new deadlines, updates, history lines (a new deadline named by its index)."""

    new: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    events: list[tuple[int | None, int | None, DeadlineEvent]] = field(default_factory=list)
    """(known deadline id, index into ``new``, event): exactly one of the first two is set."""
    withdrawn: list[str] = field(default_factory=list)
    replans: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    """(conversation external id, known deadline id, index into ``new``) of each answer, in order."""


def _write_sync(session: Session, plan: _SyncPlan, now: datetime) -> None:
    new_ids = store.open_deadlines(session, plan.new)
    for deadline_id, values in plan.updates:
        store.update_deadline(session, deadline_id, values)
    store.add_events(session, [{**event, "deadline_id": known if known is not None else new_ids[index]}
                               for known, index, event in plan.events])
    if plan.withdrawn:
        # A reminder still waiting in the outbox when the seller answers would only confuse them.
        outbox.withdraw_queued(session, plan.withdrawn, "withdrawn: the seller answered before it was sent")
    if not plan.replans:
        return
    # A replan only touches unsent grouped emails that list its conversation (and the emails it
    # queues list fewer): one look at them per batch instead of two queries per answer.
    listed = {c.get("conversation_id") for stage in NUDGES
              for email in outbox.unsent_with_key_prefix(session, f"response-group:{stage.notice}:")
              for c in email.request.context.get("conversations", ())}
    for conversation_external_id, known, index in plan.replans:
        if conversation_external_id in listed:
            _replan_groups(session, conversation_external_id, known if known is not None else new_ids[index], now)


def _reconcile(app: App, plan: _SyncPlan, conversation: ConversationTimeline, computed: ConversationObligations,
               now: datetime) -> Counter[str]:
    counts: Counter[str] = Counter()
    by_start = {known.started_by: known for known in conversation.deadlines}
    for obligation in computed.obligations:
        known = by_start.pop(obligation.started_by, None)
        if known is None:
            _open(app, plan, conversation, obligation, now)
            counts["opened"] += 1
        elif known.answered_by != obligation.answered_by:
            _set_answer(app, plan, conversation.external_id, known, obligation, now)
            counts["answered"] += 1
    for known in by_start.values():
        # A late-imported earlier message can move the clock start; the old row stays as history.
        plan.updates.append((known.id, {"superseded_at": now, "next_due_at": None}))
        plan.events.append((known.id, None, _event(0, now, "superseded")))
        counts["superseded"] += 1
    return counts


def _open(app: App, plan: _SyncPlan, conversation: ConversationTimeline, obligation: ResponseObligation,
          now: datetime) -> None:
    row = {"conversation_id": conversation.id, "seller_id": conversation.seller_id, "started_at": obligation.started_at,
           "started_by_message_id": obligation.started_by, "stage_sent": 0, "away": conversation.seller_away,
           "next_due_at": stage_due_at(obligation.started_at, Stage.NONE, app.settings.responses),
           "answered_at": None, "answered_by_message_id": None, "response_seconds": None}
    index = len(plan.new)
    plan.new.append(row)
    plan.events.append((None, index, _event(0, now, "opened", detail="seller away" if conversation.seller_away else None)))
    if obligation.answered_at is not None:
        # Answered already: the row is inserted with its answer (a new deadline has no email to withdraw).
        row.update(_answer_values(app, obligation, Stage.NONE, obligation.started_at))
        plan.events.append((None, index, _event(0, now, "answered", detail=f"{obligation.response_seconds} s")))
        plan.replans.append((conversation.external_id, None, index))


def _answer_values(app: App, obligation: ResponseObligation, stage_sent: Stage, started_at: datetime) -> dict[str, Any]:
    answered = obligation.answered_at is not None
    return {"answered_at": obligation.answered_at, "answered_by_message_id": obligation.answered_by,
            "response_seconds": obligation.response_seconds,
            "next_due_at": None if answered else stage_due_at(started_at, stage_sent, app.settings.responses)}


def _set_answer(app: App, plan: _SyncPlan, conversation_external_id: str, known: KnownDeadline,
                obligation: ResponseObligation, now: datetime) -> None:
    plan.updates.append((known.id, _answer_values(app, obligation, Stage(known.stage_sent), known.started_at)))
    if obligation.answered_at is None:
        plan.events.append((known.id, None, _event(0, now, "reopened")))
        return
    plan.events.append((known.id, None, _event(0, now, "answered", detail=f"{obligation.response_seconds} s")))
    plan.withdrawn += [notice_key(known.id, stage) for stage in NUDGES]
    plan.replans.append((conversation_external_id, known.id, None))


def _replan_groups(session: Session, conversation_external_id: str, deadline_id: int, now: datetime) -> None:
    """Take an answered conversation out of its seller's unsent grouped nudges, re-queueing the rest.

    The replacement's key extends the withdrawn one's with the answered deadline: unique, and a
    rerun finds the old key dead and the new one present, so nothing is queued twice.
    """
    for stage in NUDGES:
        for email in outbox.unsent_with_key_prefix(session, f"response-group:{stage.notice}:"):
            listed = {c.get("conversation_id") for c in email.request.context.get("conversations", ())}
            if conversation_external_id not in listed:
                continue
            outbox.withdraw_queued(session, [email.request.idempotency_key],
                                   f"re-planned: the seller answered {conversation_external_id} before it was sent")
            context = without_conversations(email.request.context, {conversation_external_id})
            if context is not None:
                key = f"{email.request.idempotency_key}-{deadline_id}"
                outbox.enqueue_notices(session, [replace(email.request, context=context, idempotency_key=key)], now)


# --- The due-sweep ----------------------------------------------------------------------------


@dataclass
class SweepOutcome:
    """Counts of one sweep, and sellers whose time zone name had to be replaced by UTC."""

    counts: Counter[str] = field(default_factory=Counter)
    invalid_zones: dict[str, str] = field(default_factory=dict)
    """Seller (the marketplace's id) → the unknown zone name their record gives."""

    def merge(self, other: SweepOutcome) -> None:
        self.counts.update(other.counts)
        self.invalid_zones.update(other.invalid_zones)


class _Member(NamedTuple):
    """One conversation of a seller's email at one stage."""

    deadline_id: int
    stage: Stage
    address: str
    name: str
    facts: ResponseNoticeFacts


@dataclass
class _Plan:
    """What the sweep will write for one deadline: its new columns, events and email."""

    update: DeadlineUpdate
    events: list[DeadlineEvent] = field(default_factory=list)
    notice: _Member | None = None
    """This conversation's part of its seller's email for the stage (one email per seller and stage)."""
    breach: dict[str, Any] | None = None
    """The ``response.breached`` webhook event's data, when this deadline was just breached."""


def sweep_due(app: App, now: datetime, batch_size: int = BATCH_SIZE) -> SweepOutcome:
    """Record every stage due at ``now`` and queue its email, one committed batch at a time."""
    total = SweepOutcome()
    while True:
        try:
            with transaction(app.session_factory) as session:
                outcome = _sweep_batch(app, session, now, batch_size)
        except Exception:  # noqa: BLE001 - retried row by row below so one bad row cannot block the rest
            log.exception("due-sweep batch failed; retrying row by row")
            with transaction(app.session_factory) as session:
                outcome = _sweep_isolated(app, session, now, batch_size)
        total.merge(outcome)
        if outcome.counts["examined"] < batch_size:
            return total


def _lock_batch(session: Session, now: datetime, batch_size: int) -> tuple[list[DueDeadline], int]:
    """A batch of due deadlines, completed with the rest of its sellers' due ones; and the base count.

    Grouping is per sweep, not per batch: a seller whose due conversations straddle the batch
    limit still gets one email per stage, because the batch takes all of them.
    """
    due = store.lock_due(session, now, batch_size)
    if len(due) < batch_size:
        return due, len(due)
    rest = store.lock_due_of_sellers(session, now, sorted({row.seller_id for row in due}), [row.id for row in due])
    return due + rest, len(due)


def _sweep_batch(app: App, session: Session, now: datetime, batch_size: int) -> SweepOutcome:
    due, base = _lock_batch(session, now, batch_size)
    outcome = SweepOutcome(Counter(examined=base))
    _write(app, session, [_plan(app, row, now, outcome) for row in due], now, outcome)
    return outcome


def _sweep_isolated(app: App, session: Session, now: datetime, batch_size: int) -> SweepOutcome:
    """The same batch one deadline at a time, each in a savepoint: a bad row is recorded and skipped.

    The emails of the rows that went through are still grouped per seller and stage, after the loop.
    """
    due, base = _lock_batch(session, now, batch_size)
    outcome = SweepOutcome(Counter(examined=base))
    written: list[_Plan] = []
    for row in due:
        try:
            with store.savepoint(session):
                plan = _plan(app, row, now, outcome)
                _write(app, session, [plan], now, outcome, with_notices=False)
            written.append(plan)
        except Exception as exc:  # noqa: BLE001 - one bad row is recorded and skipped, never retried in a loop
            log.exception("deadline %s could not be processed", row.id)
            store.postpone(session, row.id, now + ERROR_RETRY, _event(row.id, now, "error", None, str(exc)[:500]))
            outcome.counts["errors"] += 1
    outcome.counts["queued_emails"] += store.write_sweep(session, [], [], _notices(app, written), now)
    return outcome


def _write(app: App, session: Session, plans: list[_Plan], now: datetime, outcome: SweepOutcome,
           with_notices: bool = True) -> None:
    updates = [plan.update for plan in plans]
    events = [event for plan in plans for event in plan.events]
    notices = _notices(app, plans) if with_notices else []
    outcome.counts["queued_emails"] += store.write_sweep(session, updates, events, notices, now)
    breaches = [("response.breached", plan.breach["seller"], plan.breach) for plan in plans if plan.breach]
    outcome.counts["breach_events"] += len(webhooks.record_many(session, breaches, now))


def _notices(app: App, plans: Sequence[_Plan]) -> list[NoticeRequest]:
    """One email per seller and stage, listing every conversation of that seller due at that stage.

    Five breaches of one seller in one sweep are one email naming five buyers, not five copies.
    """
    groups: dict[tuple[str, Stage], list[_Member]] = {}
    for plan in plans:
        if plan.notice is not None:
            groups.setdefault((plan.notice.facts.seller_external_id, plan.notice.stage), []).append(plan.notice)
    identity = app.settings.mail
    return [
        NoticeRequest(
            notice=stage.notice,
            recipient_address=members[0].address,
            recipient_name=members[0].name,
            context=RESPONSE_CONTEXTS[stage.notice](identity, [m.facts for m in members]),
            idempotency_key=group_key(stage, seller, [m.deadline_id for m in members]),
        )
        for (seller, stage), members in groups.items()
    ]


def _plan(app: App, row: DueDeadline, now: datetime, outcome: SweepOutcome) -> _Plan:
    decision = decide_stage(row.started_at, Stage(row.stage_sent), row.seller, now, app.settings.responses)
    if decision.zone.fell_back_to_utc:
        outcome.invalid_zones[row.seller_external_id] = row.seller.timezone or ""
    plan = _Plan({"deadline_id": row.id, "stage_sent": row.stage_sent, "next_due_at": decision.next_due_at,
                  "breached_at": row.breached_at, "away": row.away})
    if decision.stage is None:
        if decision.held_until is not None:
            plan.events.append(_event(row.id, now, "held", None, f"quiet hours until {decision.held_until:%Y-%m-%dT%H:%M}Z"))
        outcome.counts["held" if decision.held_until else "rescheduled"] += 1
        return plan
    _record_stage(plan, row, decision, now, outcome)
    if decision.delivery == Delivery.SEND:
        plan.notice = _notice(app, row, decision)
    return plan


def _record_stage(plan: _Plan, row: DueDeadline, decision: StageDecision, now: datetime, outcome: SweepOutcome) -> None:
    stage = decision.stage
    assert stage is not None
    plan.update["stage_sent"] = int(stage)
    if decision.breached:
        plan.update["breached_at"] = now
        plan.breach = {"seller": row.seller_external_id, "conversation": row.conversation_external_id,
                       "waiting_since": row.started_at.isoformat(), "limit_hours": 24}
    if decision.delivery == Delivery.SUPPRESSED_AWAY:
        plan.update["away"] = True
    skipped = ",".join(s.notice for s in decision.skipped)
    detail = f"{decision.delivery}" + (f"; superseded {skipped}" if skipped else "")
    if decision.zone.fell_back_to_utc:
        detail += "; invalid time zone, used UTC"
    plan.events.append(_event(row.id, now, "stage", int(stage), detail))
    outcome.counts[f"{stage.notice}:{decision.delivery}"] += 1


def _notice(app: App, row: DueDeadline, decision: StageDecision) -> _Member:
    stage = decision.stage
    assert stage is not None
    policy = app.settings.responses
    facts = ResponseNoticeFacts(
        seller_external_id=row.seller_external_id, seller_name=row.seller_name,
        conversation_external_id=row.conversation_external_id, started_at=row.started_at,
        stage_due_at=row.started_at + policy.offset(stage), deadline=row.started_at + policy.breach_after,
        zone=decision.zone.zone, buyer_name=row.buyer_name, listing=row.listing, order_ref=row.order_ref,
        masked_text=row.masked_text,
    )
    return _Member(row.id, stage, (row.seller.email or "").strip(), row.seller_name, facts)


# --- Statistics and preferences -------------------------------------------------------------


def seller_response_stats(app: App, now: datetime, seller_email: str | None = None) -> list[SellerStatsRow]:
    """Statistics over the policy's window for every seller with deadlines in it (or just one, by email)."""
    with app.session_factory() as session:
        return response_stats.seller_rows(SessionReader(session), app.settings.responses, now, seller_email)
