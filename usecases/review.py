"""Review: the trust-and-safety queue's workflow — open items from findings, list, show, claim,
resolve, strikes and escalation, staff alerts, overturn, housekeeping, staff and statistics.

Every function but ``housekeeping`` works in the caller's ``session`` (an opaque object passed
through to ``storage.review``), so the caller's commit makes a decision, its strike, its history
lines and its outbox emails visible together, and a refusal (raised before anything is written,
or rolling the transaction back) changes nothing. The scanner calls ``open_items_for_findings``
inside its own transaction, so an item exists exactly when its findings do.

People are named by the marketplace's ids (u-…, c-…, m-…) in everything staff read: listings,
emails, links and history notes. Row ids stay inside PeerGuard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline import notices
from pipeline.review import (
    OUTCOMES,
    DetectorPrecision,
    ItemCandidate,
    ReviewPolicy,
    SignalFacts,
    escalation_for,
    excerpt,
    group_incidents,
    incident_key,
    is_high_severity,
    joins_item,
    mark_spans,
    most_severe_kind,
    policy_reason,
    policy_rule,
    precision_from_counts,
    queue_rank,
    restriction_ends_at,
    surviving_item,
)
from storage import review as store
from storage.db import Session, SessionReader, transaction
from storage.models import ContactFinding, ReviewItem, Strike
from storage.outbox import NoticeRequest, enqueue_notices
from storage.review import ConversationRow, Person, StrikeRecord
from usecases import review_queue, webhooks
from usecases.app import App
from usecases.review_queue import QueueEntry, queue_entry
from usecases.settings import Settings

CONTEXT_MESSAGES = 5
"""Messages shown before and after the flagged ones in ``show_item``."""
STAFF_NAME = "Trust and safety"


# --- Errors ------------------------------------------------------------------------------------


class ReviewError(Exception):
    """A review action refused; nothing was changed."""


class ItemNotFound(ReviewError):
    """No review item (or strike) has this id."""


class AlreadyResolved(ReviewError):
    """The item was already decided (or the strike already overturned)."""


class ClaimedByOther(ReviewError):
    """Another reviewer holds an unexpired claim on the item."""


class NotStaff(ReviewError):
    """The acting email belongs to no staff user."""


class VersionConflict(ReviewError):
    """The item changed after it was read; reload it and decide again."""


class UnknownOutcome(ReviewError):
    """The outcome is not confirmed, dismissed or ignored."""


# --- Small helpers -----------------------------------------------------------------------------


def review_url(settings: Settings, item_id: int) -> str:
    """The staff console link of an item."""
    return f"https://{settings.site}/staff/review/{item_id}"


def user_url(settings: Settings, user: Person) -> str:
    """The staff console link of a user, by the marketplace's user id."""
    return f"https://{settings.site}/staff/users/{user.external_id}"


def require_staff(session: Session, email: str) -> Person:
    """The staff user with this email (case-insensitive), or NotStaff."""
    user = store.staff_member(session, email)
    if user is None:
        raise NotStaff(f"{email} is not a staff member; only staff can review (see `peerguard staff add`)")
    return user


def active_strike_count(session: Session, user_id: int, now: datetime, policy: ReviewPolicy) -> int:
    """Strikes of ``user_id`` in the rolling window ``(now - window, now]``, not overturned."""
    return store.count_strikes(session, user_id, now - policy.window, now)


def _update(session: Session, item_id: int, version: int, **values: Any) -> None:
    if not store.update_item(session, item_id, version, **values):
        raise VersionConflict(f"review item {item_id} was changed by someone else; reload it and try again")


def _event(session: Session, event_type: str, user: Person, now: datetime, **data: Any) -> None:
    """A webhook event about ``user``, in this decision's transaction (ordered per user)."""
    webhooks.record(session, event_type, user.external_id, {"user": user.external_id, **data}, now)


def _item_data(session: Session, item: ReviewItem) -> dict[str, Any]:
    conversation, message = store.item_refs(session, item)
    return {"review_item": item.id, "conversation": conversation, "message": message, "kind": item.kind}


def _subject(session: Session, item: ReviewItem) -> Person:
    # The subject's row is referenced by the item (ON DELETE CASCADE), so it is always there.
    return store.person(session, item.subject_user_id)


# --- Opening items from findings ---------------------------------------------------------------


def open_items_for_findings(session: Session, finding_ids: Sequence[int], settings: Settings, now: datetime,
                            one_by_one: bool = False, new_findings: Sequence[Any] | None = None) -> list[int]:
    """Put each finding on the review item of its incident; return the items touched.

    One incident, one item: the new findings of a conversation are grouped by shared messages
    (``pipeline.review.group_incidents``), and each group joins the items it overlaps that are
    still pending or were decided within the strike window (``joins_item``); when it bridges
    several, they are merged into one (``surviving_item``). An incident that overlaps nothing
    live opens a new item. Re-running with the same findings changes nothing.

    Incidents whose messages belong to no item yet (nearly all of them) are opened together,
    a handful of multi-row statements for the whole run of them (``_open_new_incidents``); any
    other incident goes through ``_open_incident`` one at a time, in its place in the order, so
    row ids, history lines, events and emails come out exactly as one by one (``one_by_one``,
    kept as the reference the equivalence test compares with).

    ``new_findings``: the findings of ``finding_ids``, in id order, as this transaction has just
    inserted them (``storage.scanning.StoredFinding``; no item can have them yet), so they are
    not read back.
    """
    if not finding_ids:
        return []
    by_conversation: dict[int, list[ContactFinding]] = {}
    found = new_findings if new_findings is not None else store.unsignalled(session, store.findings(session, finding_ids))
    for finding in found:
        by_conversation.setdefault(finding.conversation_id, []).append(finding)
    # Held until the caller commits: no other scanner looks up or opens items of these conversations meanwhile.
    store.lock_conversations(session, sorted(by_conversation))
    incidents = [(conversation_id, [found[i] for i in group])
                 for conversation_id, found in sorted(by_conversation.items())
                 for group in group_incidents([_messages(f) for f in found])]
    anchors: dict[int, store.AnchorFacts] | None = None
    if one_by_one:
        owned: set[int] = set(m for _, group in incidents for f in group for m in _messages(f))
        taken: set[str] = set()
    else:
        # With the anchors of every incident: what _open_new_incidents reads, in the same statement.
        owned, taken, anchors = store.incident_facts(
            session, [m for _, group in incidents for f in group for m in _messages(f)], [_new_key(c, group) for c, group in incidents],
            [max(set().union(*(_messages(f) for f in group))) for _, group in incidents], now - settings.review.window, now)
    touched: list[int] = []
    fresh: list[tuple[int, list[ContactFinding]]] = []
    for conversation_id, group in incidents:
        if owned.isdisjoint(set().union(*(_messages(f) for f in group))) and _new_key(conversation_id, group) not in taken:
            fresh.append((conversation_id, group))
            continue
        touched += _open_new_incidents(session, fresh, settings, now, anchors)
        fresh = []
        item_id = _open_incident(session, conversation_id, group, settings, now)
        if item_id is not None and item_id not in touched:
            touched.append(item_id)
    return touched + _open_new_incidents(session, fresh, settings, now, anchors)


def _new_key(conversation_id: int, findings: list[ContactFinding]) -> str:
    messages = set().union(*(_messages(f) for f in findings))
    return incident_key(conversation_id, messages, min(f.id for f in findings))


def _signal_note(findings: Sequence[Any]) -> str:
    return ", ".join(f"{f.kind} {f.value} ({f.detector_version}, score {f.score:.2f})" for f in findings)


def _open_new_incidents(session: Session, incidents: list[tuple[int, list[ContactFinding]]], settings: Settings,
                        now: datetime, anchors: dict[int, store.AnchorFacts] | None = None) -> list[int]:
    """Open an item for each incident none of whose messages belongs to an item yet, set-based.

    What ``_open_incident`` does for such an incident — create the item, add its messages and
    signals, rank it, write the ``opened`` line, the ``message.flagged`` event and, for a
    high-severity item, the ``flag-alert`` and its ``staff_alerted`` line — computed in memory
    from one read of the anchors, senders and strike counts, then written in one statement per
    table, rows in the order one by one would have written them. ``anchors``: those facts, read
    already (``store.incident_facts``), by anchor message.
    """
    if not incidents:
        return []
    session.flush()
    policy = settings.review
    plans = []
    for conversation_id, group in incidents:
        findings = sorted(group, key=lambda f: f.id)
        messages = sorted(set().union(*(_messages(f) for f in findings)))
        plans.append((conversation_id, findings, messages, max(messages)))
    if anchors is None:
        anchors = store.incident_anchors(session, [anchor for *_, anchor in plans], now - policy.window, now)
    rows, ranked = [], []
    for conversation_id, findings, messages, anchor in plans:
        facts = [SignalFacts(f.kind, f.value, f.score) for f in findings]
        sender = anchors[anchor].sender
        kind, score = most_severe_kind(f.kind for f in findings), max(f.score for f in findings)
        high = is_high_severity(facts, bool(sender and sender.restricted))
        # The item as one by one leaves it: created (version 1), then re-ranked once (version 2).
        rows.append(dict(
            target_key=incident_key(conversation_id, messages, findings[0].id), conversation_id=conversation_id,
            message_id=anchor, subject_user_id=anchors[anchor].sender_id, kind=kind, status="pending", score=score,
            priority=queue_rank(kind, score, anchors[anchor].strikes, now), high_severity=high,
            opened_at=now, version=2,
        ))
        ranked.append((kind, high))
    item_ids = store.insert_items(session, rows)
    store.add_incident_messages(session, [(item_id, m) for item_id, (_, _, messages, _) in zip(item_ids, plans, strict=True)
                                          for m in messages])
    store.insert_signals(session, [
        dict(item_id=item_id, finding_id=f.id, kind=f.kind, value=f.value, detector_version=f.detector_version,
             score=f.score, spans=f.spans, created_at=now)
        for item_id, (_, findings, _, _) in zip(item_ids, plans, strict=True) for f in findings
    ])
    history, events, alerts = [], [], []
    for item_id, (_, findings, _, anchor), (kind, high) in zip(item_ids, plans, ranked, strict=True):
        history.append(dict(item_id=item_id, actor_id=None, action="opened", from_status=None, to_status="pending",
                            note=f"new signal: {_signal_note(findings)}", at=now))
        facts = anchors[anchor]
        sender = facts.sender
        user = sender.external_id if sender else None
        events.append(("message.flagged", user, {
            "user": user, "review_item": item_id, "conversation": facts.conversation_external_id,
            "message": facts.message_external_id, "kind": kind, "kinds": sorted({f.kind for f in findings}),
            "high_severity": high,
        }))
        if high and settings.staff_email:
            spans = sorted((s["start"], s["end"]) for f in findings for s in f.spans if s["message_id"] == anchor)
            context = notices.flag_alert(item_id, kind, sender.label if sender else "?", excerpt(facts.body, spans),
                                         review_url(settings, item_id))
            alerts.append(NoticeRequest("flag-alert", settings.staff_email, STAFF_NAME, context,
                                        f"flag-alert:item:{item_id}"))
            history.append(dict(item_id=item_id, actor_id=None, action="staff_alerted", from_status=None, to_status=None,
                                note=f"flag-alert to {settings.staff_email}", at=now))
    store.add_history_rows(session, history)
    webhooks.record_many(session, events, now)
    enqueue_notices(session, alerts, now)
    return item_ids


def _messages(finding: ContactFinding) -> set[int]:
    return {*finding.message_ids, finding.message_id}


def _open_incident(session: Session, conversation_id: int, findings: list[ContactFinding], settings: Settings,
                   now: datetime) -> int | None:
    messages = sorted(set().union(*(_messages(f) for f in findings)))
    live = [o for o in store.items_sharing_messages(session, messages)
            if joins_item(o.status, o.resolved_at, now, settings.review)]
    opened_at: datetime | None = None
    if live:
        survivor = surviving_item([ItemCandidate(o.id, o.has_strike) for o in live])
        locked = {item.id: item for item in store.lock_items(session, [o.id for o in live])}
        item, created = locked.pop(survivor), False
        if locked:
            opened_at = _merge(session, item, list(locked.values()), now)
    else:
        first = min(findings, key=lambda f: f.id)
        # The anchor is the newest message of the incident: its sender is the item's subject.
        item, created = store.lock_or_create_item(session, incident_key(conversation_id, messages, first.id),
                                                  conversation_id, max(messages), first.kind, first.score, now)
    store.add_item_messages(session, item.id, messages)
    added = [finding for finding in sorted(findings, key=lambda f: f.id) if store.add_signal(session, item.id, finding, now)]
    if not added:
        return None
    before = item.status
    reopen = before != "pending"
    _refresh_item(session, item, settings.review, now, reopen=reopen, opened_at=opened_at)
    action = "opened" if created else ("reopened" if reopen else "signal_added")
    note = ", ".join(f"{f.kind} {f.value} ({f.detector_version}, score {f.score:.2f})" for f in added)
    store.add_history(session, item.id, None, action, now, None if created else before, "pending", f"new signal: {note}")
    refreshed = store.reload_item(session, item.id)
    if action != "signal_added":
        _event(session, "message.flagged", _subject(session, refreshed), now, **_item_data(session, refreshed),
               kinds=sorted({f.kind for f in added}), high_severity=refreshed.high_severity)
    _alert_staff_if_high(session, refreshed, settings, now)
    return item.id


def _merge(session: Session, survivor: ReviewItem, others: list[ReviewItem], now: datetime) -> datetime | None:
    """Merge items a new incident bridges into ``survivor``; returns the earliest opening of the pending ones.

    The queue keeps the age of the longest-waiting pending item, so merging never sends work to
    the back of the queue. Strikes and history stay with each item; both sides get a history line.
    """
    ids = [other.id for other in others]
    store.merge_items(session, survivor.id, ids, now)
    names = ", ".join(str(i) for i in ids)
    store.add_history(session, survivor.id, None, "merged", now, survivor.status, survivor.status,
                      f"items {names} merged into this one (a new finding shares their messages)")
    for other in others:
        store.add_history(session, other.id, None, "merged", now, other.status, "merged", f"merged into item {survivor.id}")
    waiting = [item.opened_at for item in [survivor, *others] if item.status == "pending"]
    return min(waiting) if waiting else None


def _ranking(session: Session, item: ReviewItem, policy: ReviewPolicy, now: datetime, opened_at: datetime) -> dict[str, Any]:
    """Kind, score, stored priority and high-severity flag of an item from its signals and sender."""
    signals = store.signal_facts(session, item.id)
    sender = store.person(session, item.subject_user_id)
    kind = most_severe_kind(s.kind for s in signals)
    score = max(s.score for s in signals)
    strikes = active_strike_count(session, item.subject_user_id, now, policy)
    return {
        "kind": kind, "score": score, "priority": queue_rank(kind, score, strikes, opened_at),
        "high_severity": is_high_severity(signals, bool(sender and sender.restricted)),
    }


def _refresh_item(session: Session, item: ReviewItem, policy: ReviewPolicy, now: datetime, reopen: bool,
                  opened_at: datetime | None = None) -> None:
    """Re-rank the item after new signals; a resolved item goes back to the queue as new.

    ``opened_at`` (after a merge: the longest-waiting pending item's) replaces the opening time.
    """
    opened = opened_at or (now if reopen else item.opened_at)
    values = _ranking(session, item, policy, now, opened) | {"opened_at": opened}
    if reopen:
        values |= dict(status="pending", resolved_by_id=None, resolved_at=None,
                       resolution_note=None, claimed_by_id=None, claim_expires_at=None)
    _update(session, item.id, item.version, **values)


def _alert_staff_if_high(session: Session, item: ReviewItem, settings: Settings, now: datetime) -> None:
    """Queue the ``flag-alert`` for a high-severity item, once per item.

    The history line decides whether the alert was already queued; the outbox's idempotency key
    is the second guard, so even a lost history line could not send the alert twice.
    """
    if not item.high_severity or not settings.staff_email or store.has_history(session, item.id, "staff_alerted"):
        return
    sender = store.person(session, item.subject_user_id)
    context = notices.flag_alert(item.id, item.kind, sender.label if sender else "?", _item_excerpt(session, item),
                                 review_url(settings, item.id))
    request = NoticeRequest("flag-alert", settings.staff_email, STAFF_NAME, context, f"flag-alert:item:{item.id}")
    enqueue_notices(session, [request], now)
    store.add_history(session, item.id, None, "staff_alerted", now, note=f"flag-alert to {settings.staff_email}")


def _item_excerpt(session: Session, item: ReviewItem) -> str:
    spans = [(s["start"], s["end"]) for signal in store.signals(session, item.id) for s in signal.spans
             if s["message_id"] == item.message_id]
    return excerpt(store.message_body(session, item.message_id), sorted(spans))


# --- Reading the queue -------------------------------------------------------------------------


def list_queue(session: Session, now: datetime, status: str = "pending", kind: str | None = None, limit: int = 50) -> list[QueueEntry]:
    """Items with this status (and kind), pending ones in priority order."""
    return review_queue.list_queue(SessionReader(session), now, status, kind, limit)


@dataclass(frozen=True)
class ContextMessage:
    """A message around (or of) the flagged target, findings marked in flagged ones; ``id`` is m-…, ``sender_id`` u-…."""

    id: str
    sender: str
    sender_id: str
    sent_at: datetime
    text: str
    flagged: bool


@dataclass(frozen=True)
class ItemDetail:
    """Everything ``review show`` prints about one item."""

    item: QueueEntry
    conversation: ConversationRow
    version: int
    resolved_by: str | None
    resolution_note: str | None
    signals: list[dict[str, Any]]
    messages: list[ContextMessage]
    strikes: list[StrikeRecord]
    history: list[dict[str, Any]] = field(default_factory=list)
    merged_into: int | None = None
    """The item that absorbed this one (status ``merged``): it holds the signals now."""


def get_item(session: Session, item_id: int) -> ReviewItem:
    """The item with this id, or ItemNotFound."""
    item = store.get_item(session, item_id)
    if item is None:
        raise ItemNotFound(f"there is no review item {item_id}")
    return item


def show_item(session: Session, item_id: int, now: datetime, context: bool = True) -> ItemDetail:
    """The item, its signals, the flagged text in context, the sender's strikes and the history.

    Without ``context`` the messages and strikes are left empty, for callers that show their own.
    """
    item = get_item(session, item_id)
    signals = store.signals(session, item.id)
    return ItemDetail(
        queue_entry(store.queue_row(session, item.id), now), store.conversation_row(session, item.conversation_id),
        item.version, store.user_label(session, item.resolved_by_id), item.resolution_note,
        [_signal_json(s) for s in signals], _context_messages(session, item, signals) if context else [],
        store.sender_strikes(session, item.subject_user_id) if context else [], store.item_history(session, item.id),
        item.merged_into_id,
    )


def _signal_json(signal) -> dict[str, Any]:
    return {"id": signal.id, "finding_id": signal.finding_id, "kind": signal.kind, "value": signal.value,
            "detector_version": signal.detector_version, "score": round(signal.score, 3), "outcome": signal.outcome}


def _context_messages(session: Session, item: ReviewItem, signals: list) -> list[ContextMessage]:
    spans: dict[int, list[tuple[int, int]]] = {}
    for signal in signals:
        for span in signal.spans:
            spans.setdefault(span["message_id"], []).append((span["start"], span["end"]))
        if not signal.spans:  # an attachment finding flags its message, not a text span
            spans.setdefault(item.message_id, [])
    flagged = store.message_positions(session, list(spans) or [item.message_id])
    rows = store.messages_around(session, item.conversation_id, min(flagged), max(flagged), CONTEXT_MESSAGES)
    return [ContextMessage(m.external_id, m.sender, m.sender_id, m.sent_at, mark_spans(m.body, spans.get(m.row_id, [])), m.row_id in spans)
            for m in rows]


# --- Reviewer actions --------------------------------------------------------------------------


def _check_claim(item: ReviewItem, reviewer: Person, now: datetime) -> None:
    held = item.claimed_by_id is not None and item.claimed_by_id != reviewer.id
    if held and item.claim_expires_at is not None and item.claim_expires_at > now:
        raise ClaimedByOther(f"review item {item.id} is claimed by someone else until {item.claim_expires_at.isoformat()}")


def _pending_item(session: Session, item_id: int) -> ReviewItem:
    item = get_item(session, item_id)
    if item.status != "pending":
        raise AlreadyResolved(f"review item {item_id} is already {item.status}")
    return item


def claim(session: Session, item_id: int, reviewer_email: str, now: datetime, policy: ReviewPolicy) -> ReviewItem:
    """Claim a pending item for ``policy.claim_minutes``; renewing one's own claim is allowed."""
    reviewer = require_staff(session, reviewer_email)
    item = _pending_item(session, item_id)
    _check_claim(item, reviewer, now)
    expires = now + policy.claim_length
    _update(session, item.id, item.version, claimed_by_id=reviewer.id, claim_expires_at=expires)
    store.add_history(session, item.id, reviewer.id, "claimed", now, note=f"until {expires.isoformat()}")
    return store.reload_item(session, item.id)


@dataclass(frozen=True)
class Resolution:
    """What a decision did: the new status, the strike it gave, and the escalation steps taken."""

    item_id: int
    status: str
    strike_id: int | None = None
    active_strikes: int = 0
    steps: tuple[str, ...] = ()


def resolve(
    session: Session, item_id: int, outcome: str, reviewer_email: str, now: datetime, settings: Settings,
    note: str | None = None, expected_version: int | None = None,
) -> Resolution:
    """Decide a pending item; ``confirmed`` gives the sender a strike and may escalate."""
    if outcome not in OUTCOMES:
        raise UnknownOutcome(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    reviewer = require_staff(session, reviewer_email)
    item = _pending_item(session, item_id)
    _check_claim(item, reviewer, now)
    version = item.version if expected_version is None else expected_version
    _update(session, item.id, version, status=outcome, resolved_by_id=reviewer.id, resolved_at=now,
            resolution_note=note, claimed_by_id=None, claim_expires_at=None)
    store.decide_signals(session, item.id, outcome, now)
    store.add_history(session, item.id, reviewer.id, "resolved", now, "pending", outcome, note)
    decided = store.reload_item(session, item.id)
    _event(session, "review.resolved", _subject(session, decided), now, **_item_data(session, decided), outcome=outcome)
    if outcome != "confirmed":
        return Resolution(item.id, outcome)
    return _strike(session, decided, reviewer, now, settings)


def _strike(session: Session, item: ReviewItem, reviewer: Person, now: datetime, settings: Settings) -> Resolution:
    """Give the sender a strike for a confirmed item (once per item) and apply the escalation."""
    # One incident, one strike: a reopened item confirmed again keeps its first strike, and an
    # item that absorbed one which already gave a strike gives none.
    if store.incident_has_strike(session, item.id):
        return Resolution(item.id, "confirmed")
    strike_id = store.add_strike(session, item.subject_user_id, item.id, now, item.resolution_note)
    if strike_id is None:
        return Resolution(item.id, "confirmed")
    policy = settings.review
    count = active_strike_count(session, item.subject_user_id, now, policy)
    store.add_history(session, item.id, reviewer.id, "strike_issued", now,
                      note=f"strike {strike_id}; {count} active in {policy.window_days} days")
    _event(session, "strike.issued", _subject(session, item), now, strike=strike_id, review_item=item.id, active_strikes=count)
    steps = _escalate(session, item, strike_id, count, reviewer, now, settings)
    rerank_pending_items(session, item.subject_user_id, settings, now)
    return Resolution(item.id, "confirmed", strike_id, count, steps)


def _escalate(
    session: Session, item: ReviewItem, strike_id: int, count: int, reviewer: Person, now: datetime, settings: Settings,
) -> tuple[str, ...]:
    """Warn, restrict and alert as the policy says for the ``count``-th active strike."""
    escalation = escalation_for(count, settings.review)
    user = _subject(session, item)
    requests: list[NoticeRequest] = []
    steps: list[str] = []
    if escalation.warn and user.email:
        requests.append(_policy_warning(session, settings, user, item, count, strike_id))
        steps.append("warning_sent")
    if escalation.restrict:
        store.set_restricted(session, user.id, True)
        steps.append("user_restricted")
        requests += _account_restricted(session, settings, user, now, strike_id)
        requests += _staff_alert(settings, "repeat-offender", user, count, strike_id)
        _event(session, "user.restricted", user, now, active_strikes=count, strike=strike_id)
    if escalation.recommend_suspension:
        steps.append("suspension_recommended")
        requests += _staff_alert(settings, "suspension-recommended", user, count, strike_id)
        _event(session, "user.suspension_recommended", user, now, active_strikes=count, strike=strike_id)
    enqueue_notices(session, requests, now)
    for step in steps:
        store.add_history(session, item.id, reviewer.id, step, now, note=f"user {user.external_id} at {count} active strikes")
    return tuple(steps)


# --- Account notices to the user (each once: its outbox key names the decision) -------------------


def _quote(session: Session, item_id: int) -> notices.FlaggedQuote:
    """The item's message as an account notice shows it: masked, by the marketplace's ids."""
    found = store.flagged_message(session, item_id)
    if found is None:  # the message is gone: name nothing rather than fail the decision
        return notices.FlaggedQuote("", None, datetime.min, None)
    masked = notices.flagged_text(found.body, found.masked_body, found.spans, found.split_spans)
    return notices.FlaggedQuote(found.conversation_external_id, found.listing, found.sent_at, masked)


def _policy_warning(session: Session, settings: Settings, user: Person, item: ReviewItem, count: int,
                    strike_id: int) -> NoticeRequest:
    context = notices.policy_warning(settings.mail, user.name, count, policy_reason(item.kind), policy_rule(item.kind),
                                     _quote(session, item.id))
    return NoticeRequest("policy-warning", user.email, user.name, context, f"policy-warning:strike:{strike_id}")


def _account_restricted(session: Session, settings: Settings, user: Person, now: datetime, strike_id: int) -> list[NoticeRequest]:
    """The restriction notice to the user: the strikes' messages (masked), until when, how to appeal."""
    if not user.email:
        return []
    policy = settings.review
    strikes = store.active_strikes(session, user.id, now - policy.window, now)
    context = notices.account_restricted(
        settings.mail, user.name, len(strikes), policy.window_days,
        restriction_ends_at([s.created_at for s in strikes], policy), [_quote(session, s.item_id) for s in strikes],
    )
    return [NoticeRequest("account-restricted", user.email, user.name, context, f"account-restricted:strike:{strike_id}")]


def _restriction_lifted(session: Session, settings: Settings, user: Person, reason: str, now: datetime) -> None:
    """Queue the notice that the user's restriction ended, once per restriction.

    A restriction starts only with a new strike, so the user's newest strike names the
    restriction being lifted: the key holds across an overturn and the expiry sweep alike.
    """
    if not user.email:
        return
    policy = settings.review
    count = active_strike_count(session, user.id, now, policy)
    context = notices.restriction_lifted(settings.mail, user.name, reason, count, policy.window_days)
    key = f"restriction-lifted:{user.external_id}:after-strike:{store.newest_strike_id(session, user.id)}"
    enqueue_notices(session, [NoticeRequest("restriction-lifted", user.email, user.name, context, key)], now)


def _strike_overturned(session: Session, settings: Settings, user: Person, strike: Strike, lifted: bool,
                       now: datetime) -> None:
    if not user.email:
        return
    count = active_strike_count(session, user.id, now, settings.review)
    context = notices.strike_overturned(settings.mail, user.name, strike.created_at, _quote(session, strike.item_id),
                                        count, lifted)
    enqueue_notices(session, [NoticeRequest("strike-overturned", user.email, user.name, context,
                                            f"strike-overturned:strike:{strike.id}")], now)


def _staff_alert(settings: Settings, notice: str, user: Person, count: int, strike_id: int) -> list[NoticeRequest]:
    if not settings.staff_email:
        return []
    build = notices.repeat_offender if notice == "repeat-offender" else notices.suspension_recommended
    # Staff look people up by the marketplace's id; PeerGuard's row id means nothing to them.
    context = build(user.label, user.external_id, count, user_url(settings, user))
    return [NoticeRequest(notice, settings.staff_email, STAFF_NAME, context, f"{notice}:strike:{strike_id}")]


def rerank_pending_items(session: Session, user_id: int, settings: Settings, now: datetime) -> None:
    """Recompute the sender's pending items after their strikes or restriction changed.

    This is housekeeping, not a decision: it leaves ``version`` alone so it never turns a
    reviewer's concurrent decision into a conflict, and touches only still-pending rows.
    """
    for item in store.pending_items_of(session, user_id):
        store.update_pending_item(session, item.id, **_ranking(session, item, settings.review, now, item.opened_at))
        _alert_staff_if_high(session, store.reload_item(session, item.id), settings, now)


def overturn_strike(session: Session, strike_id: int, reviewer_email: str, now: datetime, settings: Settings,
                    note: str | None = None) -> Strike:
    """Overturn a strike; a sender back under the restriction threshold is unrestricted."""
    reviewer = require_staff(session, reviewer_email)
    strike = store.get_strike(session, strike_id)
    if strike is None:
        raise ItemNotFound(f"there is no strike {strike_id}")
    if strike.overturned_at is not None:
        raise AlreadyResolved(f"strike {strike_id} was already overturned on {strike.overturned_at.isoformat()}")
    if not store.mark_overturned(session, strike.id, reviewer.id, now):
        raise VersionConflict(f"strike {strike_id} was changed by someone else; reload it and try again")
    store.add_history(session, strike.item_id, reviewer.id, "strike_overturned", now, note=note or f"strike {strike_id}")
    subject = store.person(session, strike.user_id)
    _event(session, "strike.overturned", subject, now, strike=strike.id, review_item=strike.item_id,
           active_strikes=active_strike_count(session, strike.user_id, now, settings.review))
    lifted = _lift_restriction(session, strike.user_id, strike.item_id, reviewer, now, settings)
    _strike_overturned(session, settings, subject, strike, lifted, now)
    rerank_pending_items(session, strike.user_id, settings, now)
    return strike


def _lift_restriction(session: Session, user_id: int, item_id: int, reviewer: Person, now: datetime, settings: Settings) -> bool:
    policy = settings.review
    user = store.person(session, user_id)
    if not user.restricted or active_strike_count(session, user_id, now, policy) >= policy.restrict_at:
        return False
    if not store.set_restricted(session, user_id, False):
        return False
    store.add_history(session, item_id, reviewer.id, "user_unrestricted", now,
                      note=f"user {user.external_id} below {policy.restrict_at} active strikes")
    _event(session, "user.unrestricted", user, now, reason="strike_overturned")
    _restriction_lifted(session, settings, user, "strike_overturned", now)
    return True


def expire_restrictions(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Lift the restriction of senders whose strikes have aged out of the window; return their row ids.

    A restriction comes with the third active strike and is lifted at once when a strike is
    overturned; strikes that simply grow older than the window are found by this sweep. The
    guarded UPDATE makes two concurrent sweeps record one lifting, not two.
    """
    policy = settings.review
    lifted: list[int] = []
    for user_id in store.restricted_user_ids(session):
        if active_strike_count(session, user_id, now, policy) >= policy.restrict_at:
            continue
        if not store.set_restricted(session, user_id, False):
            continue
        user = store.person(session, user_id)
        store.add_history(session, None, None, "user_unrestricted", now,
                          note=f"user {user.external_id}: fewer than {policy.restrict_at} strikes in the last {policy.window_days} days")
        _event(session, "user.unrestricted", user, now, reason="strikes_expired")
        _restriction_lifted(session, settings, user, "strikes_expired", now)
        rerank_pending_items(session, user_id, settings, now)
        lifted.append(user_id)
    return lifted


def housekeeping(app: App, now: datetime) -> dict[str, int]:
    """Lift restrictions whose strikes have aged out of the window, as of ``now`` (the `run --once` stage)."""
    with transaction(app.session_factory) as session:
        lifted = expire_restrictions(session, app.settings, now)
    if lifted:
        app.doorbell.deliver_webhooks()
    return {"restrictions_lifted": len(lifted)} if lifted else {}


# --- Staff and statistics ----------------------------------------------------------------------


def add_staff(session: Session, email: str, name: str | None, now: datetime) -> tuple[Person, bool]:
    """Give the staff role to the user(s) with this email, or create a staff user; True if created."""
    address = email.strip()
    users = store.users_with_email(session, address)
    created = not users
    if created:
        # A staff member the marketplace never sent us gets an id of our own, recognisable as such.
        users = [store.create_user(session, f"staff:{address.lower()}", name or address.split("@")[0], address, "staff")]
    for user in users:
        store.set_role(session, user.id, "staff", name)
    store.add_history(session, None, users[0].id, "staff_added", now, note=f"{address} ({'created' if created else 'existing user'})")
    return store.person(session, users[0].id), created


def detector_stats(session: Session) -> list[DetectorPrecision]:
    """Per detector kind and version: items, outcomes, precision (Wilson 95%) and median decision time."""
    counts = store.detector_counts(session)
    medians = store.median_decision_seconds(session)
    return [precision_from_counts(kind, version, counts.items[(kind, version)], counts.outcomes.get((kind, version), {}),
                                  medians.get((kind, version)))
            for kind, version in sorted(counts.items)]
