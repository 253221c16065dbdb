"""Notifications: dashboard rows kept in step with messages and reads, new-message emails and daily digests.

Ingest calls ``message_recorded`` and ``conversation_read`` inside its own transaction (one
statement each). The sweep finds due emails by ``email_due_at``, so a lost doorbell ring costs
nothing; the rules (due or not, which messages) are ``pipeline.notifications``'s, the email's
idempotency key makes each one exactly once.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from pipeline.notices import (
    NEW_MESSAGES_TOPIC,
    DigestFacts,
    NewMessageFacts,
    new_message,
    new_message_digest,
    verify_unsubscribe_token,
)
from pipeline.notifications import (
    EmailDecision,
    Notify,
    UnreadMessage,
    decide_new_message_email,
    digest_day,
    digest_time,
)
from pipeline.responses import resolve_zone
from storage import notifications as store
from storage.db import Session, transaction
from storage.outbox import NoticeRequest
from storage.users import user_id_by_external_id
from usecases.app import App

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
MAX_PAGE = 200
READ_FIRST = "withdrawn: the recipient read the conversation before it was sent"


# --- Ingest ---------------------------------------------------------------------------------------


def message_recorded(session: Session, conversation_id: int, recipient_id: int, message_id: int,
                     sent_at: datetime, now: datetime) -> None:
    """A new message: the recipient has one more unread in this conversation (unless read past it already)."""
    # The email is first looked at when the message was sent; the sweep's rule then names the
    # exact due time (delay, repeat), so ingest needs no policy and stays one statement.
    store.record_unread(session, conversation_id, recipient_id, message_id, sent_at, sent_at, now)


def conversation_read(session: Session, conversation_id: int, reader_id: int, at: datetime) -> None:
    """The reader saw the conversation up to ``at`` (a receipt, or their own reply): their streak ends."""
    store.record_read(session, conversation_id, reader_id, at)
    # An email still waiting in the outbox would only tell the reader what they have just read.
    store.withdraw_read_emails(session, reader_id, conversation_id, READ_FIRST)


MessageNotice = store.MessageNotice
ReadNotice = store.ReadNotice
RowsPlan = store.RowsPlan


def messages_recorded(session: Session, notices: list[MessageNotice | ReadNotice], now: datetime,
                      later: dict | None = None) -> RowsPlan | None:
    """``message_recorded`` for each message's recipient, then ``conversation_read`` for its sender
    (and for each receipt's reader), set-based; the plan written (which receipts moved).

    None, having written nothing, when a reply reads only part of a streak (or a receipt does and
    ``later``, ``messages_after`` of the receipts taken before the messages were stored, is not
    given): that needs the per-message recount, so the caller goes record by record.
    """
    plan = store.record_messages(session, notices, now, later)
    if plan is None:
        return None
    # As ``conversation_read``: an email still waiting would only tell the sender what they have just read.
    store.withdraw_emails_of(session, plan.ended, READ_FIRST)
    return plan


load_message_rows = store.load_message_rows
plan_message_rows = store.plan_message_rows
messages_after = store.messages_after
"""``messages_recorded`` in three steps, for a caller that plans while the server works: load (locks
the rows), plan (no database; None means go message by message), then ``planned_messages_recorded``."""


def planned_messages_recorded(session: Session, plan: store.RowsPlan) -> None:
    """Write a plan of ``plan_message_rows``: what ``messages_recorded`` writes after its own plan."""
    store.write_message_rows(session, plan)
    store.withdraw_emails_of(session, plan.ended, READ_FIRST)


# --- Dashboard and preferences -------------------------------------------------------------------


def list_for_user(app: App, user_external_id: str, unread_only: bool, limit: int,
                  after: tuple[datetime, int] | None) -> tuple[list[store.NotificationRow], tuple[int, int]] | None:
    """A page of a user's notifications (newest first) and their unread totals; None for an unknown user."""
    with app.session_factory() as session:
        user_id = user_id_by_external_id(session, user_external_id)
        if user_id is None:
            return None
        rows = store.list_notifications(session, user_id, unread_only, min(max(limit, 1), MAX_PAGE), after)
        return rows, store.unread_totals(session, user_id)


def mark_all_read(app: App, user_external_id: str, now: datetime) -> int | None:
    """Clear every unread notification of a user; None for an unknown user."""
    with transaction(app.session_factory) as session:
        user_id = user_id_by_external_id(session, user_external_id)
        if user_id is None:
            return None
        changed = store.mark_all_read(session, user_id, now)
        store.withdraw_read_emails(session, user_id, None, READ_FIRST)
        return changed


def set_notify(app: App, user_external_id: str, notify: str) -> bool:
    """Set a user's new-message emails to immediate, daily or off; False for an unknown user."""
    choice = Notify(notify)
    with transaction(app.session_factory) as session:
        user_id = user_id_by_external_id(session, user_external_id)
        if user_id is None:
            return False
        store.set_notify(session, user_id, choice.value)
    return True


def counts(app: App) -> tuple[int, int]:
    """(notifications, unread ones) in the whole database."""
    with app.session_factory() as session:
        return store.notification_counts(session)


# --- The sweep ------------------------------------------------------------------------------------


def sweep(app: App, now: datetime) -> dict[str, int]:
    """One idempotent pass: due new-message emails, then due daily digests, into the outbox."""
    totals = sweep_new_messages(app, now) + sweep_digests(app, now)
    return {k: v for k, v in totals.items() if v}


def sweep_new_messages(app: App, now: datetime, batch_size: int = BATCH_SIZE) -> Counter[str]:
    """Decide every due new-message email, one committed batch at a time."""
    totals: Counter[str] = Counter()
    while True:
        with transaction(app.session_factory) as session:
            due = store.lock_due(session, now, batch_size)
            updates, notices = plan_batch(app, session, due, now, totals)
            totals["queued_emails"] += store.write_sweep(session, updates, notices, now)
        if len(due) < batch_size:
            return totals


def plan_batch(app: App, session: Session, due: list[store.DueNotification], now: datetime,
               totals: Counter[str]) -> tuple[list[store.NotificationUpdate], list[NoticeRequest]]:
    """Load the batch's unread messages and decide each notification's email (no writes)."""
    unread = store.unread_messages(session, due)
    decisions = [(row, _decide(app, row, unread.get(row.id, []), now)) for row in due]
    names = store.attachment_names(session, [m.message_id for _, d in decisions for m in d.shown])
    updates: list[store.NotificationUpdate] = []
    notices: list[NoticeRequest] = []
    for row, decision in decisions:
        totals[decision.reason] += 1
        updates.append(_update(row, decision, now))
        if decision.send:
            notices.append(_notice(app, row, decision, names))
    return updates, notices


def _decide(app: App, row: store.DueNotification, unread: list[UnreadMessage], now: datetime) -> EmailDecision:
    return decide_new_message_email(unread, row.emailed_through, row.emailed_at, row.notify,
                                    bool((row.recipient_email or "").strip()), now, app.settings.notifications)


def _update(row: store.DueNotification, decision: EmailDecision, now: datetime) -> store.NotificationUpdate:
    if not decision.send:
        return {"id": row.id, "email_due_at": decision.next_due_at, "emailed_at": row.emailed_at,
                "emailed_through": row.emailed_through}
    # Nothing more to decide until a newer message arrives (its upsert sets the next due time).
    return {"id": row.id, "email_due_at": None, "emailed_at": now, "emailed_through": decision.through}


def _notice(app: App, row: store.DueNotification, decision: EmailDecision, names: dict[int, list[str]]) -> NoticeRequest:
    assert decision.first_new is not None
    zone = resolve_zone(row.recipient_timezone).zone
    other = decision.shown[-1].sender_name
    facts = NewMessageFacts(
        recipient_external_id=row.recipient_external_id, recipient_name=row.recipient_name,
        conversation_external_id=row.conversation_external_id, subject=row.subject, other_name=other,
        shown=tuple((m.sender_name, m.sent_at, m.masked_text or "", tuple(names.get(m.message_id, ())))
                    for m in decision.shown),
        more=decision.more, zone=zone,
    )
    return NoticeRequest(
        notice="new-message", recipient_address=(row.recipient_email or "").strip(), recipient_name=row.recipient_name,
        context=new_message(app.settings.mail, facts),
        # Named by the first message it newly covers: one email per streak, one per repeat.
        idempotency_key=f"new-message:{row.id}:{decision.first_new.message_id}",
    )


# --- The daily digest ----------------------------------------------------------------------------


def sweep_digests(app: App, now: datetime) -> Counter[str]:
    """Queue the digest of every daily user whose local 08:00 has passed today and who has unread messages."""
    totals: Counter[str] = Counter()
    policy = app.settings.notifications
    with app.session_factory() as session:
        candidates = store.digest_candidates(session)
    for user in candidates:
        zone = resolve_zone(user.timezone).zone
        day = digest_day(now, zone, user.last_digest_on, policy)
        if day is None:
            continue
        # The digest lists what was unread at its moment (08:00 local); a conversation that got
        # unread later that day waits for the next morning's digest.
        moment = digest_time(day, zone, policy)
        with transaction(app.session_factory) as session:
            lines = store.digest_lines(session, user.user_id, moment)
            notice = _digest_notice(app, user, day.isoformat(), lines) if lines and (user.email or "").strip() else None
            totals["digest_emails"] += store.write_digest(session, user.user_id, day, notice, now)
            totals["digests_considered"] += 1
    return totals


def _digest_notice(app: App, user: store.DigestCandidate, day: str, lines: list[store.DigestLine]) -> NoticeRequest:
    facts = DigestFacts(user.external_id, user.name, day,
                        tuple((line.conversation_external_id, line.subject, line.other_name, line.unread_count, line.preview)
                              for line in lines))
    return NoticeRequest(
        notice="new-message-digest", recipient_address=(user.email or "").strip(), recipient_name=user.name,
        context=new_message_digest(app.settings.mail, facts),
        idempotency_key=f"new-message-digest:{user.user_id}:{day}",
    )


# --- One-click unsubscribe from new-message emails -----------------------------------------------


def unsubscribe(app: App, token: str) -> bool:
    """RFC 8058 one-click: switch the token's user to ``notify`` = off; False (nothing changed) for a bad token."""
    user_external_id = verify_unsubscribe_token(app.settings.mail.unsubscribe_secret, token, NEW_MESSAGES_TOPIC)
    return user_external_id is not None and set_notify(app, user_external_id, Notify.OFF)


def token_is_valid(app: App, token: str) -> bool:
    """Whether a new-message unsubscribe link's token is ours (the confirmation page asks first)."""
    return verify_unsubscribe_token(app.settings.mail.unsubscribe_secret, token, NEW_MESSAGES_TOPIC) is not None
