"""Notices: deliver the email outbox — claim due emails, render, send over one reused connection, record —
and honour the unsubscribe links those emails carry.

Every notice (response reminders, review-queue alerts, account notices) goes through here; see
``storage/outbox.py`` for the claim/lease protocol that keeps a crash from sending one email twice.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial
from pathlib import Path

from jinja2 import TemplateError

from pipeline.addresses import InvalidAddress
from pipeline.notices import MailIdentity, OutgoingNotice, build_message, render_notice, verify_unsubscribe_token
from storage import outbox as store
from storage.db import is_postgres, transaction
from storage.mail import DeliveryError, DeliveryOutcomeUnknown, MailBatch, MailTransport, SendAborted, TransportUnavailable
from storage.responses import set_response_reminders
from storage.users import user_id_by_external_id
from usecases.app import App
from usecases.logs import log_context

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
CLAIM_BATCH = 200
DISPATCH_WORKERS = 4  # measured best on the 2-core bench machine (docs/benchmarks.md)
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
SETTLE_PATIENCE = timedelta(minutes=10)  # how long a dispatcher keeps trying to record what it did
SETTLE_MAX_DELAY = 1.0  # seconds between its attempts

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    """The real time; leases are about process liveness, so they never use a simulated ``now``."""
    return datetime.now(UTC)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after ``attempts`` failed tries: 1, 2, 4 … minutes, capped at an hour."""
    return min(RETRY_BASE * (2 ** max(0, attempts - 1)), RETRY_CAP)


def deliver_outbox(
    app: App, now: datetime, clock: Clock = wall_clock, batch_size: int = CLAIM_BATCH,
    transport: MailTransport | None = None, workers: int | None = None, stopping: Callable[[], bool] = lambda: False,
    observe_send: Callable[[float], None] | None = None,
) -> dict[str, int]:
    """Claim and send every email due at ``now``; temporary failures wait for a later run.

    With ``workers`` > 1 several dispatch loops run in threads, each with its own SMTP and
    database connection; SKIP LOCKED claims keep them on disjoint rows. When ``stopping()``
    turns true, each loop finishes the email in hand and gives its other claimed rows back.
    ``observe_send`` receives each accepted email's SMTP transaction time in seconds (metrics).
    """
    # SQLite serialises writers, so parallel dispatchers would only queue on its lock.
    workers = workers or (DISPATCH_WORKERS if is_postgres(app.engine) else 1)
    counts: Counter[str] = Counter(store.reap_expired_leases(app.session_factory, clock(), LEASE))
    # Keeps the per-status counts `outbox status` reads a few rows long, whatever the traffic.
    store.compact_status_counts(app.session_factory)
    transport = transport or app.mail_transport()
    identity = app.settings.mail
    with store.ClaimerHeartbeat(app.engine, clock) as claimer:
        loop = partial(_dispatch_loop, app, now, clock, batch_size, transport, identity, stopping, claimer.id,
                       observe_send or (lambda _seconds: None))
        if workers <= 1:
            counts.update(loop())
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dispatch") as pool:
                for result in [pool.submit(loop) for _ in range(workers)]:
                    counts.update(result.result())
    return {k: v for k, v in counts.items() if v}


def _dispatch_loop(app: App, now: datetime, clock: Clock, batch_size: int, transport: MailTransport,
                   identity: MailIdentity, stopping: Callable[[], bool], claimer: str,
                   observe_send: Callable[[float], None]) -> Counter[str]:
    counts: Counter[str] = Counter()
    while not stopping() and (claimed := store.claim_emails(app.session_factory, now, clock(), batch_size, LEASE,
                                                            claimer)):
        progress = store.DeliveryLog(app.engine)
        try:
            with transport.batch() as batch:
                stopped = _deliver_batch(app, claimed, batch, progress, identity, now, clock, counts, stopping,
                                         observe_send)
            progress.close()
        except store.ProgressLost as exc:
            # The database went away mid-batch: this process alone knows what it sent, so it
            # waits for the database and writes it down rather than leave it to the reaper.
            log.warning("outbox: database connection lost (%s); recording this batch once it is back",
                        str(exc).strip().split("\n", 1)[0])
            _settle(progress, stopping)
            counts["settled_after_db_loss"] += 1
            break
        if stopped:
            break
    return counts


def _settle(progress: store.DeliveryLog, stopping: Callable[[], bool]) -> None:
    """Reconnect with backoff and write the batch's outcomes; gives up after SETTLE_PATIENCE."""
    deadline, delay = time.monotonic() + SETTLE_PATIENCE.total_seconds(), 0.25
    stop_deadline = time.monotonic() + 8.0  # when shutting down, the reaper takes over after this
    while True:
        try:
            progress.reconnect()
            progress.close()
            return
        except store.ProgressLost:
            if time.monotonic() > deadline or (stopping() and time.monotonic() > stop_deadline):
                log.error("outbox: could not record a batch; the reaper will release it")
                return
            time.sleep(delay)
            # At most a second between attempts: a restart takes seconds, and each attempt is one
            # connection from this thread, so delivery resumes within a second of the server.
            delay = min(delay * 2, SETTLE_MAX_DELAY)


def _deliver_batch(app: App, claimed: Sequence[store.ClaimedEmail], batch: MailBatch, progress: store.DeliveryLog,
                   identity: MailIdentity, now: datetime, clock: Clock, counts: Counter[str],
                   stopping: Callable[[], bool], observe_send: Callable[[float], None]) -> bool:
    """Send a claimed batch; True when the loop should end (shutting down, or the server is down)."""
    for index, email in enumerate(claimed):
        if stopping():
            # Shutting down: these rows never reached the server, so they go straight back.
            _give_back(app, claimed[index:], now, "not attempted: the dispatcher stopped", counts, "released")
            return True
        try:
            _deliver_one(email, batch, progress, identity, now, clock, counts, observe_send)
        except TransportUnavailable as exc:
            # The server is unreachable: stop this run instead of timing out on every row.
            _give_back_through(progress, claimed[index + 1 :], now + RETRY_BASE, f"not attempted: {exc}", counts)
            return True
        except store.ProgressLost:
            # This email never got its terminator; neither did the rest.
            _give_back_through(progress, claimed[index:], now, "not attempted: the database connection was lost",
                               counts)
            raise
    return False


def _give_back_through(progress: store.DeliveryLog, rest: Sequence[store.ClaimedEmail], retry_at: datetime,
                       reason: str, counts: Counter[str]) -> None:
    for email in rest:
        progress.give_back(email, retry_at, reason)
    counts["deferred"] += len(rest)


def _give_back(app: App, rest: Sequence[store.ClaimedEmail], retry_at: datetime, reason: str,
               counts: Counter[str], outcome: str) -> None:
    """Return claimed rows that were never handed to the server, and count them under ``outcome``."""
    store.release_unsent(app.session_factory, rest, retry_at, reason)
    counts[outcome] += len(rest)


def _deliver_one(email: store.ClaimedEmail, batch: MailBatch, progress: store.DeliveryLog, identity: MailIdentity,
                 now: datetime, clock: Clock, counts: Counter[str], observe_send: Callable[[float], None]) -> None:
    try:
        message = _message(email, identity, clock())
    except (InvalidAddress, TemplateError, KeyError, ValueError) as exc:
        with log_context(notice=email.notice):
            _fail(progress, email, f"cannot build message: {exc}", None, counts)
        return
    # Every line logged while this email is handled names it by its Message-ID (what the
    # recipient's server logs too) and its notice; never by recipient address or row alone.
    with log_context(email=str(message["Message-ID"]), notice=email.notice):
        _send_one(email, message, batch, progress, now, clock, counts, observe_send)


def _send_one(email: store.ClaimedEmail, message: EmailMessage, batch: MailBatch, progress: store.DeliveryLog,
              now: datetime, clock: Clock, counts: Counter[str], observe_send: Callable[[float], None]) -> None:
    marked: list[bool] = []

    def before_terminator() -> bool:
        # The point of no return: the start mark must be committed before the terminator goes out.
        marked.append(True)
        return progress.begin_send(email, clock())

    started = time.perf_counter()
    try:
        provider_id = batch.send(message, before_terminator)
    except SendAborted:
        counts["lost_claim"] += 1
        return
    except TransportUnavailable as exc:
        # Never completed (no connection, or it broke before the terminator): back to the queue.
        progress.give_back(email, now + RETRY_BASE, f"not attempted: {exc}")
        counts["deferred"] += 1
        raise
    except DeliveryError as exc:
        attempts = email.attempts + 1
        retryable = exc.temporary and not isinstance(exc, DeliveryOutcomeUnknown) and attempts < MAX_ATTEMPTS
        _fail(progress, email, str(exc), now + retry_delay(attempts) if retryable else None, counts,
              count_attempt=not marked)
        return
    observe_send(time.perf_counter() - started)
    progress.sent(email, provider_id, clock())
    counts["sent"] += 1


def _fail(progress: store.DeliveryLog, email: store.ClaimedEmail, error: str, retry_at: datetime | None,
          counts: Counter[str], count_attempt: bool = False) -> None:
    progress.failed(email, error, retry_at, count_attempt)
    outcome = "retry" if retry_at else "dead"
    log.warning("email %s (%s) %s: %s", email.id, email.notice, outcome, error)
    counts[outcome] += 1


def _message(email: store.ClaimedEmail, identity: MailIdentity, sent_at: datetime) -> EmailMessage:
    rendered = render_notice(email.notice, email.context, TEMPLATES_DIR)
    outgoing = OutgoingNotice(
        notice=email.notice,
        recipient_address=email.recipient_address,
        recipient_name=email.recipient_name,
        idempotency_key=email.idempotency_key,
        rendered=rendered,
        unsubscribe_url=email.context.get("unsubscribe_url"),
        unsubscribe_mailto=email.context.get("unsubscribe_mailto"),
        thread=email.context.get("thread"),
    )
    return build_message(outgoing, identity, sent_at)


def unsubscribe(app: App, token: str, now: datetime) -> bool:
    """RFC 8058 one-click unsubscribe from response reminders; False (nothing changed) for a bad token."""
    # The token names the marketplace's user id and proves we signed it, so a forged or garbled
    # token is refused before the database is asked anything.
    user_external_id = verify_unsubscribe_token(app.settings.mail.unsubscribe_secret, token)
    if user_external_id is None:
        return False
    with transaction(app.session_factory) as session:
        user_id = user_id_by_external_id(session, user_external_id)
        if user_id is None:
            return False
        set_response_reminders(session, user_id, True, now)
    return True


def set_reminders(app: App, user_external_id: str, receive: bool, now: datetime) -> bool:
    """Switch a user's response reminders on (re-subscribe) or off; False for an unknown user."""
    with transaction(app.session_factory) as session:
        user_id = user_id_by_external_id(session, user_external_id)
        if user_id is None:
            return False
        set_response_reminders(session, user_id, not receive, now)
    return True


def token_is_valid(app: App, token: str) -> bool:
    """Whether an unsubscribe link's token is ours (the confirmation page says so before any change)."""
    return verify_unsubscribe_token(app.settings.mail.unsubscribe_secret, token) is not None
