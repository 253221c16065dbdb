"""The review queue's services: open items from findings, list, show, claim, resolve, strikes, stats.

Every function works in the caller's session and transaction, so a caller's commit makes a
decision, its strike, its history lines and its outbox emails visible together, and an error
(raised before anything is written, or rolling the transaction back) changes nothing.

Reviewer decisions use optimistic locking: they read an item without locking it, and write
with ``UPDATE … WHERE id = :id AND version = :version``; no row updated means someone else
changed the item since it was read, and the caller gets ``VersionConflict``. The scanner, which
must never lose a finding, instead locks the item row (``FOR UPDATE`` on PostgreSQL; SQLite
serialises writers anyway) and always bumps the version, so a reviewer deciding on stale
evidence gets a conflict too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from typing import Any as Settings  # the typed usecases.settings.Settings; storage may not import it

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from pipeline import notices
from pipeline.review import (
    OUTCOMES,
    DetectorPrecision,
    ReviewPolicy,
    SignalFacts,
    effective_priority,
    escalation_for,
    excerpt,
    is_high_severity,
    mark_spans,
    median,
    most_severe_kind,
    policy_reason,
    precision_from_counts,
    queue_rank,
    target_key,
)
from storage.db import is_postgres
from storage.models import ContactFinding, Message, ReviewHistory, ReviewItem, ReviewSignal, Strike, User
from storage.outbox import NoticeRequest, enqueue_notices

CONTEXT_MESSAGES = 5
"""Messages shown before and after the flagged ones in ``show_item``."""


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


def _dialect(session: Session):
    return postgresql if is_postgres(session) else sqlite


def _history(
    session: Session, item_id: int | None, actor_id: int | None, action: str, now: datetime,
    from_status: str | None = None, to_status: str | None = None, note: str | None = None,
) -> None:
    session.add(ReviewHistory(item_id=item_id, actor_id=actor_id, action=action, from_status=from_status,
                              to_status=to_status, note=note, at=now))


def _guarded_update(session: Session, item_id: int, version: int, **values: Any) -> None:
    """Write ``values`` only if the item is still at ``version``; bump the version."""
    result = session.execute(
        update(ReviewItem)
        .where(ReviewItem.id == item_id, ReviewItem.version == version)
        .values(version=version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise VersionConflict(f"review item {item_id} was changed by someone else; reload it and try again")


def _reload(session: Session, item_id: int) -> ReviewItem:
    return session.execute(
        select(ReviewItem).where(ReviewItem.id == item_id).execution_options(populate_existing=True)
    ).scalar_one()


def _site(settings: Settings) -> str:
    return settings.platform_domains[0]


def review_url(settings: Settings, item_id: int) -> str:
    """The staff console link of an item."""
    return f"https://{_site(settings)}/staff/review/{item_id}"


def _user_url(settings: Settings, user_id: int) -> str:
    return f"https://{_site(settings)}/staff/users/{user_id}"


def require_staff(session: Session, email: str) -> User:
    """The staff user with this email (case-insensitive), or NotStaff."""
    user = session.scalar(
        select(User).where(func.lower(User.email) == email.strip().lower(), User.role == "staff").order_by(User.id).limit(1)
    )
    if user is None:
        raise NotStaff(f"{email} is not a staff member; only staff can review (see `peerguard staff add`)")
    return user


def active_strike_count(session: Session, user_id: int, now: datetime, policy: ReviewPolicy) -> int:
    """Strikes of ``user_id`` in the rolling window ending at ``now``, not overturned."""
    return session.scalar(
        select(func.count()).select_from(Strike).where(
            Strike.user_id == user_id, Strike.overturned_at.is_(None),
            Strike.created_at > now - policy.window, Strike.created_at <= now,
        )
    ) or 0


# --- Opening items from findings ---------------------------------------------------------------


def open_items_for_findings(
    session: Session, finding_ids: Sequence[int], settings: Settings, now: datetime
) -> list[int]:
    """Create or update the review item of each finding's target; return the items touched.

    Called in the scanner's transaction right after the findings are stored, so an item exists
    exactly when its findings do. Re-running with the same findings changes nothing.
    """
    if not finding_ids:
        return []
    findings = session.scalars(select(ContactFinding).where(ContactFinding.id.in_(list(finding_ids))).order_by(ContactFinding.id))
    targets: dict[str, list[ContactFinding]] = {}
    for finding in findings:
        targets.setdefault(target_key(finding.scope, finding.message_ids), []).append(finding)
    policy = settings.review
    touched = [_open_target(session, key, group, settings, policy, now) for key, group in sorted(targets.items())]
    return [item_id for item_id in touched if item_id is not None]


def _open_target(
    session: Session, key: str, findings: list[ContactFinding], settings: Settings, policy: ReviewPolicy, now: datetime
) -> int | None:
    item, created = _locked_item(session, key, findings[0], now)
    added = [finding for finding in findings if _add_signal(session, item.id, finding, now)]
    if not added:
        return None
    before = item.status
    reopen = before != "pending"
    _refresh_item(session, item, policy, now, reopen=reopen)
    action = "opened" if created else ("reopened" if reopen else "signal_added")
    note = ", ".join(f"{f.kind} {f.value} ({f.detector_version}, score {f.score:.2f})" for f in added)
    _history(session, item.id, None, action, now, None if created else before, "pending", f"new signal: {note}")
    _alert_staff_if_high(session, _reload(session, item.id), settings, now)
    return item.id


def _locked_item(session: Session, key: str, finding: ContactFinding, now: datetime) -> tuple[ReviewItem, bool]:
    """The item for ``key``, created if missing, locked against concurrent scanners."""
    anchor = max(finding.message_ids)
    sender_id = session.scalar(select(Message.sender_id).where(Message.id == anchor))
    values = dict(
        target_key=key, conversation_id=finding.conversation_id, message_id=anchor, subject_user_id=sender_id,
        kind=finding.kind, status="pending", score=finding.score, priority=0.0, high_severity=False,
        opened_at=now, version=1,
    )
    statement = (
        _dialect(session).insert(ReviewItem).values(**values)
        .on_conflict_do_nothing(index_elements=["target_key"]).returning(ReviewItem.id)
    )
    created = session.scalar(statement) is not None
    query = select(ReviewItem).where(ReviewItem.target_key == key).execution_options(populate_existing=True)
    if is_postgres(session):
        query = query.with_for_update()
    return session.execute(query).scalar_one(), created


def _add_signal(session: Session, item_id: int, finding: ContactFinding, now: datetime) -> bool:
    """Record ``finding`` as a signal of the item; False when it already is one."""
    statement = (
        _dialect(session).insert(ReviewSignal).values(
            item_id=item_id, finding_id=finding.id, kind=finding.kind, value=finding.value,
            detector_version=finding.detector_version, score=finding.score, spans=finding.spans, created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["finding_id"]).returning(ReviewSignal.id)
    )
    return session.scalar(statement) is not None


def _signal_facts(session: Session, item_id: int) -> list[SignalFacts]:
    rows = session.execute(select(ReviewSignal.kind, ReviewSignal.value, ReviewSignal.score).where(ReviewSignal.item_id == item_id))
    return [SignalFacts(kind, value, score) for kind, value, score in rows]


def _ranking(session: Session, item: ReviewItem, policy: ReviewPolicy, now: datetime, opened_at: datetime) -> dict[str, Any]:
    """Kind, score, stored priority and high-severity flag of an item from its signals and sender."""
    signals = _signal_facts(session, item.id)
    sender = session.get(User, item.subject_user_id)
    kind = most_severe_kind(s.kind for s in signals)
    score = max(s.score for s in signals)
    strikes = active_strike_count(session, item.subject_user_id, now, policy)
    return {
        "kind": kind, "score": score, "priority": queue_rank(kind, score, strikes, opened_at),
        "high_severity": is_high_severity(signals, bool(sender and sender.restricted)),
    }


def _refresh_item(session: Session, item: ReviewItem, policy: ReviewPolicy, now: datetime, reopen: bool) -> None:
    """Re-rank the item after new signals; a resolved item goes back to the queue as new."""
    values = _ranking(session, item, policy, now, now if reopen else item.opened_at)
    if reopen:
        values |= dict(status="pending", opened_at=now, resolved_by_id=None, resolved_at=None,
                       resolution_note=None, claimed_by_id=None, claim_expires_at=None)
    _guarded_update(session, item.id, item.version, **values)


def _alert_staff_if_high(session: Session, item: ReviewItem, settings: Settings, now: datetime) -> None:
    """Queue the ``flag-alert`` for a high-severity item, once per item.

    The history line decides whether the alert was already queued; the outbox's idempotency key
    is the second guard, so even a lost history line could not send the alert twice.
    """
    if not item.high_severity or not settings.staff_email or _already_alerted(session, item.id):
        return
    sender = session.get(User, item.subject_user_id)
    context = notices.flag_alert(item.id, item.kind, (sender.email or sender.external_id) if sender else "?",
                                 _item_excerpt(session, item), review_url(settings, item.id))
    request = NoticeRequest("flag-alert", settings.staff_email, "Trust and safety", context, f"flag-alert:item:{item.id}")
    enqueue_notices(session, [request], now)
    _history(session, item.id, None, "staff_alerted", now, note=f"flag-alert to {settings.staff_email}")


def _already_alerted(session: Session, item_id: int) -> bool:
    return session.scalar(
        select(ReviewHistory.id).where(ReviewHistory.item_id == item_id, ReviewHistory.action == "staff_alerted").limit(1)
    ) is not None


def _item_excerpt(session: Session, item: ReviewItem) -> str:
    body = session.scalar(select(Message.body).where(Message.id == item.message_id)) or ""
    spans = [(s["start"], s["end"]) for signal in _signals(session, item.id) for s in signal.spans if s["message_id"] == item.message_id]
    return excerpt(body, sorted(spans))


def _signals(session: Session, item_id: int) -> list[ReviewSignal]:
    return list(session.scalars(select(ReviewSignal).where(ReviewSignal.item_id == item_id).order_by(ReviewSignal.id)))


# --- Reading the queue -------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    """One line of ``review list``."""

    id: int
    status: str
    kind: str
    priority: float
    score: float
    high_severity: bool
    sender: str
    conversation_id: int
    message_id: int
    opened_at: datetime
    claimed_by: str | None
    resolved_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "status": self.status, "kind": self.kind, "priority": self.priority,
            "score": round(self.score, 3), "high_severity": self.high_severity, "sender": self.sender,
            "conversation_id": self.conversation_id, "message_id": self.message_id,
            "opened_at": self.opened_at.isoformat(), "claimed_by": self.claimed_by,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }


def queue_query(status: str = "pending", kind: str | None = None, limit: int = 50):
    """The SELECT behind ``review list`` (exposed so the benchmark can EXPLAIN it)."""
    sender, claimant = aliased(User), aliased(User)
    query = (
        select(ReviewItem, sender.email, sender.external_id, claimant.email.label("claimant"))
        .join(sender, sender.id == ReviewItem.subject_user_id)
        .outerjoin(claimant, claimant.id == ReviewItem.claimed_by_id)
        .where(ReviewItem.status == status)
    )
    if kind is not None:
        query = query.where(ReviewItem.kind == kind)
    # Pending items come in queue order (the partial index); decided ones newest decision first.
    order = (ReviewItem.priority.desc(), ReviewItem.opened_at) if status == "pending" else (ReviewItem.resolved_at.desc(), ReviewItem.id.desc())
    return query.order_by(*order).limit(limit)


def list_queue(session: Session, now: datetime, status: str = "pending", kind: str | None = None, limit: int = 50) -> list[QueueEntry]:
    """Items with this status (and kind), pending ones in priority order."""
    rows = session.execute(queue_query(status, kind, limit))
    return [_entry(row, now) for row in rows]


def _entry(row, now: datetime) -> QueueEntry:
    item: ReviewItem = row[0]
    claim_live = item.claim_expires_at is not None and item.claim_expires_at > now
    return QueueEntry(
        item.id, item.status, item.kind, effective_priority(item.priority, now), item.score, item.high_severity,
        row.email or row.external_id, item.conversation_id, item.message_id, item.opened_at,
        row.claimant if claim_live else None, item.resolved_at,
    )


@dataclass(frozen=True)
class ContextMessage:
    """A message around (or of) the flagged target, with the findings marked in flagged ones."""

    id: int
    sender: str
    sent_at: datetime
    text: str
    flagged: bool


@dataclass(frozen=True)
class StrikeRecord:
    """One strike of the sender, for ``review show``."""

    id: int
    item_id: int
    created_at: datetime
    overturned_at: datetime | None
    note: str | None


@dataclass(frozen=True)
class ItemDetail:
    """Everything ``review show`` prints about one item."""

    item: QueueEntry
    version: int
    resolved_by: str | None
    resolution_note: str | None
    signals: list[dict[str, Any]]
    messages: list[ContextMessage]
    strikes: list[StrikeRecord]
    history: list[dict[str, Any]] = field(default_factory=list)


def get_item(session: Session, item_id: int) -> ReviewItem:
    """The item with this id, or ItemNotFound."""
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise ItemNotFound(f"there is no review item {item_id}")
    return item


def show_item(session: Session, item_id: int, now: datetime) -> ItemDetail:
    """The item, its signals, the flagged text in context, the sender's strikes and the history."""
    item = get_item(session, item_id)
    signals = _signals(session, item.id)
    row = session.execute(queue_query(item.status, None, 1).where(ReviewItem.id == item.id)).one()
    return ItemDetail(
        _entry(row, now), item.version, _email_of(session, item.resolved_by_id), item.resolution_note,
        [_signal_json(s) for s in signals], _context_messages(session, item, signals),
        sender_strikes(session, item.subject_user_id), _history_of(session, item.id),
    )


def _email_of(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return (user.email or user.external_id) if user else None


def _signal_json(signal: ReviewSignal) -> dict[str, Any]:
    return {"id": signal.id, "finding_id": signal.finding_id, "kind": signal.kind, "value": signal.value,
            "detector_version": signal.detector_version, "score": round(signal.score, 3), "outcome": signal.outcome}


def _context_messages(session: Session, item: ReviewItem, signals: list[ReviewSignal]) -> list[ContextMessage]:
    spans: dict[int, list[tuple[int, int]]] = {}
    for signal in signals:
        for span in signal.spans:
            spans.setdefault(span["message_id"], []).append((span["start"], span["end"]))
    flagged = [tuple(row) for row in session.execute(
        select(Message.sent_at, Message.id).where(Message.id.in_(list(spans) or [item.message_id])))]
    first, last = min(flagged), max(flagged)
    position = (Message.sent_at, Message.id)
    base = select(Message, User.email, User.external_id).join(User, User.id == Message.sender_id).where(
        Message.conversation_id == item.conversation_id)
    before = base.where(_before(position, first)).order_by(Message.sent_at.desc(), Message.id.desc()).limit(CONTEXT_MESSAGES)
    middle = base.where(~_before(position, first), ~_after(position, last)).order_by(Message.sent_at, Message.id)
    after = base.where(_after(position, last)).order_by(Message.sent_at, Message.id).limit(CONTEXT_MESSAGES)
    rows = list(reversed(session.execute(before).all())) + session.execute(middle).all() + session.execute(after).all()
    return [
        ContextMessage(m.id, email or external_id, m.sent_at, mark_spans(m.body, spans.get(m.id, [])), m.id in spans)
        for m, email, external_id in rows
    ]


def _before(position, bound):
    sent_at, message_id = position
    return or_(sent_at < bound[0], and_(sent_at == bound[0], message_id < bound[1]))


def _after(position, bound):
    sent_at, message_id = position
    return or_(sent_at > bound[0], and_(sent_at == bound[0], message_id > bound[1]))


def sender_strikes(session: Session, user_id: int) -> list[StrikeRecord]:
    """Every strike of a user, newest first, overturned ones included."""
    rows = session.scalars(select(Strike).where(Strike.user_id == user_id).order_by(Strike.created_at.desc(), Strike.id.desc()))
    return [StrikeRecord(s.id, s.item_id, s.created_at, s.overturned_at, s.note) for s in rows]


def _history_of(session: Session, item_id: int) -> list[dict[str, Any]]:
    actor = aliased(User)
    rows = session.execute(
        select(ReviewHistory, actor.email).outerjoin(actor, actor.id == ReviewHistory.actor_id)
        .where(ReviewHistory.item_id == item_id).order_by(ReviewHistory.id)
    )
    return [
        {"at": h.at.isoformat(), "actor": email or "system", "action": h.action,
         "from": h.from_status, "to": h.to_status, "note": h.note}
        for h, email in rows
    ]


# --- Reviewer actions --------------------------------------------------------------------------


def _check_claim(item: ReviewItem, reviewer: User, now: datetime) -> None:
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
    _guarded_update(session, item.id, item.version, claimed_by_id=reviewer.id, claim_expires_at=expires)
    _history(session, item.id, reviewer.id, "claimed", now, note=f"until {expires.isoformat()}")
    return _reload(session, item.id)


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
    _guarded_update(session, item.id, version, status=outcome, resolved_by_id=reviewer.id, resolved_at=now,
                    resolution_note=note, claimed_by_id=None, claim_expires_at=None)
    session.execute(
        update(ReviewSignal).where(ReviewSignal.item_id == item.id, ReviewSignal.outcome.is_(None))
        .values(outcome=outcome, decided_at=now).execution_options(synchronize_session=False)
    )
    _history(session, item.id, reviewer.id, "resolved", now, "pending", outcome, note)
    if outcome != "confirmed":
        return Resolution(item.id, outcome)
    return _strike(session, _reload(session, item.id), reviewer, now, settings)


def _strike(session: Session, item: ReviewItem, reviewer: User, now: datetime, settings: Settings) -> Resolution:
    """Give the sender a strike for a confirmed item (once per item) and apply the escalation."""
    statement = (
        _dialect(session).insert(Strike)
        .values(user_id=item.subject_user_id, item_id=item.id, created_at=now, note=item.resolution_note)
        .on_conflict_do_nothing(index_elements=["item_id"]).returning(Strike.id)
    )
    strike_id = session.scalar(statement)
    if strike_id is None:
        # A reopened item confirmed again keeps its first strike: one target, one strike.
        return Resolution(item.id, "confirmed")
    policy = settings.review
    count = active_strike_count(session, item.subject_user_id, now, policy)
    _history(session, item.id, reviewer.id, "strike_issued", now, note=f"strike {strike_id}; {count} active in {policy.window_days} days")
    steps = _escalate(session, item, strike_id, count, reviewer, now, settings, policy)
    rerank_pending_items(session, item.subject_user_id, settings, now)
    return Resolution(item.id, "confirmed", strike_id, count, steps)


def _escalate(
    session: Session, item: ReviewItem, strike_id: int, count: int, reviewer: User, now: datetime,
    settings: Settings, policy: ReviewPolicy,
) -> tuple[str, ...]:
    """Warn, restrict and alert as the policy says for the ``count``-th active strike."""
    escalation = escalation_for(count, policy)
    user = session.get(User, item.subject_user_id)
    requests: list[NoticeRequest] = []
    steps: list[str] = []
    if escalation.warn and user.email:
        context = notices.policy_warning(user.name, count, policy_reason(item.kind), f"https://{_site(settings)}/help/messaging-policy")
        requests.append(NoticeRequest("policy-warning", user.email, user.name, context, f"policy-warning:strike:{strike_id}"))
        steps.append("warning_sent")
    if escalation.restrict:
        user.restricted = True
        steps.append("user_restricted")
        requests += _staff_alert(settings, "repeat-offender", user, count, strike_id)
    if escalation.recommend_suspension:
        steps.append("suspension_recommended")
        requests += _staff_alert(settings, "suspension-recommended", user, count, strike_id)
    enqueue_notices(session, requests, now)
    for step in steps:
        _history(session, item.id, reviewer.id, step, now, note=f"user {user.id} at {count} active strikes")
    return tuple(steps)


def _staff_alert(settings: Settings, notice: str, user: User, count: int, strike_id: int) -> list[NoticeRequest]:
    if not settings.staff_email:
        return []
    build = notices.repeat_offender if notice == "repeat-offender" else notices.suspension_recommended
    context = build(user.email or user.external_id, user.id, count, _user_url(settings, user.id))
    return [NoticeRequest(notice, settings.staff_email, "Trust and safety", context, f"{notice}:strike:{strike_id}")]


def rerank_pending_items(session: Session, user_id: int, settings: Settings, now: datetime) -> None:
    """Recompute the sender's pending items after their strikes or restriction changed.

    This is housekeeping, not a decision: it leaves ``version`` alone so it never turns a
    reviewer's concurrent decision into a conflict, and touches only still-pending rows.
    """
    policy = settings.review
    for item in session.scalars(select(ReviewItem).where(ReviewItem.subject_user_id == user_id, ReviewItem.status == "pending")).all():
        values = _ranking(session, item, policy, now, item.opened_at)
        session.execute(update(ReviewItem).where(ReviewItem.id == item.id, ReviewItem.status == "pending").values(**values)
                        .execution_options(synchronize_session=False))
        _alert_staff_if_high(session, _reload(session, item.id), settings, now)


def overturn_strike(session: Session, strike_id: int, reviewer_email: str, now: datetime, settings: Settings,
                    note: str | None = None) -> Strike:
    """Overturn a strike; a sender back under the restriction threshold is unrestricted."""
    reviewer = require_staff(session, reviewer_email)
    strike = session.get(Strike, strike_id)
    if strike is None:
        raise ItemNotFound(f"there is no strike {strike_id}")
    if strike.overturned_at is not None:
        raise AlreadyResolved(f"strike {strike_id} was already overturned on {strike.overturned_at.isoformat()}")
    result = session.execute(
        update(Strike).where(Strike.id == strike.id, Strike.overturned_at.is_(None))
        .values(overturned_at=now, overturned_by_id=reviewer.id).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise VersionConflict(f"strike {strike_id} was changed by someone else; reload it and try again")
    _history(session, strike.item_id, reviewer.id, "strike_overturned", now, note=note or f"strike {strike_id}")
    _lift_restriction(session, strike.user_id, strike.item_id, reviewer, now, settings)
    rerank_pending_items(session, strike.user_id, settings, now)
    session.refresh(strike)
    return strike


def _lift_restriction(session: Session, user_id: int, item_id: int, reviewer: User, now: datetime, settings: Settings) -> None:
    policy = settings.review
    user = session.get(User, user_id)
    if not user.restricted or active_strike_count(session, user_id, now, policy) >= policy.restrict_at:
        return
    user.restricted = False
    _history(session, item_id, reviewer.id, "user_unrestricted", now, note=f"user {user_id} below {policy.restrict_at} active strikes")


def expire_restrictions(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Lift the restriction of senders whose strikes have aged out of the window; return their ids.

    A restriction comes with the third active strike and is lifted at once when a strike is
    overturned; strikes that simply grow older than the window are found by this sweep. The
    guarded UPDATE makes two concurrent sweeps record one lifting, not two.
    """
    policy = settings.review
    lifted: list[int] = []
    for user_id in session.scalars(select(User.id).where(User.restricted.is_(True)).order_by(User.id)).all():
        if active_strike_count(session, user_id, now, policy) >= policy.restrict_at:
            continue
        # The default synchronisation also updates a User already loaded in this session, so the
        # re-ranking below sees the sender unrestricted.
        result = session.execute(update(User).where(User.id == user_id, User.restricted.is_(True)).values(restricted=False))
        if result.rowcount != 1:
            continue
        _history(session, None, None, "user_unrestricted", now,
                 note=f"user {user_id}: fewer than {policy.restrict_at} strikes in the last {policy.window_days} days")
        rerank_pending_items(session, user_id, settings, now)
        lifted.append(user_id)
    return lifted


# --- Staff and statistics ----------------------------------------------------------------------


def add_staff(session: Session, email: str, name: str | None, now: datetime) -> tuple[User, bool]:
    """Give the staff role to the user(s) with this email, or create a staff user; True if created."""
    address = email.strip()
    users = list(session.scalars(select(User).where(func.lower(User.email) == address.lower()).order_by(User.id)))
    created = not users
    if created:
        users = [User(external_id=f"staff:{address.lower()}", name=name or address.split("@")[0], email=address,
                      timezone="UTC", away=False, role="staff", restricted=False)]
        session.add(users[0])
    for user in users:
        user.role = "staff"
        if name:
            user.name = name
    session.flush()
    _history(session, None, users[0].id, "staff_added", now, note=f"{address} ({'created' if created else 'existing user'})")
    return users[0], created


def detector_stats(session: Session) -> list[DetectorPrecision]:
    """Per detector kind and version: items, outcomes, precision (Wilson 95%) and median decision time.

    Counted in SQL: an item judged by several signals of one detector counts once, with its
    newest signal's outcome (``pipeline.review.detector_precision`` states the rule and is the
    reference the tests compare with). Only the aggregates reach Python, so the report costs the
    same however many signals have been decided; on SQLite, which has no percentile function,
    the decision times are read to compute the medians.
    """
    s = ReviewSignal.__table__.c
    group = (s.kind, s.detector_version)
    newest = select(func.max(s.id)).group_by(s.kind, s.detector_version, s.item_id)
    counts: dict[tuple[str, str], dict[str, int]] = {}
    items: dict[tuple[str, str], int] = {}
    for kind, version, outcome, count in session.execute(
        select(*group, s.outcome, func.count()).where(s.id.in_(newest)).group_by(*group, s.outcome)
    ):
        items[(kind, version)] = items.get((kind, version), 0) + count
        if outcome is not None:
            counts.setdefault((kind, version), {})[outcome] = count
    medians = _median_decision_seconds(session)
    return [precision_from_counts(kind, version, items[(kind, version)], counts.get((kind, version), {}),
                                  medians.get((kind, version)))
            for kind, version in sorted(items)]


def _median_decision_seconds(session: Session) -> dict[tuple[str, str], float]:
    """Median seconds from signal to decision per detector kind and version."""
    s = ReviewSignal.__table__.c
    decided = s.decided_at.is_not(None)
    if is_postgres(session):
        seconds = func.extract("epoch", s.decided_at - s.created_at)
        rows = session.execute(select(s.kind, s.detector_version, func.percentile_cont(0.5).within_group(seconds))
                               .where(decided).group_by(s.kind, s.detector_version))
        return {(kind, version): float(value) for kind, version, value in rows}
    durations: dict[tuple[str, str], list[float]] = {}
    for kind, version, created, decided_at in session.execute(
        select(ReviewSignal.kind, ReviewSignal.detector_version, ReviewSignal.created_at, ReviewSignal.decided_at).where(decided)
    ):
        durations.setdefault((kind, version), []).append((decided_at - created).total_seconds())
    return {key: value for key, values in durations.items() if (value := median(values)) is not None}
