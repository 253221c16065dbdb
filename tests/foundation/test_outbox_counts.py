"""The per-status outbox counts that `outbox status`, `status` and the gauges read (migration 0017's
triggers): equal to a real count of email_outbox after every kind of status change the code makes,
on both databases, and unchanged by compaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from storage import outbox as store
from storage.db import SessionReader, is_postgres, transaction
from storage.status import outbox_counts

LEASE = timedelta(minutes=5)


def _request(n: int) -> store.NoticeRequest:
    return store.NoticeRequest("flag-alert", f"r{n}@example.com", f"R {n}", {"n": n}, f"key-{n}")


def _check(app) -> dict[str, int]:
    """The triggered counts equal a real count, read both ways (bare session SQL and the counts table)."""
    with app.session_factory() as session:
        real = dict(session.execute(text("SELECT status, count(*) FROM email_outbox GROUP BY status")).all())
        counted = outbox_counts(SessionReader(session))
    assert counted == real
    return counted


def test_counts_follow_every_status_change(app):
    now = datetime.now(UTC)
    assert _check(app) == {}
    with transaction(app.session_factory) as session:
        assert store.enqueue_notices(session, [_request(n) for n in range(10)], now) == 10
        assert store.enqueue_notices(session, [_request(0), _request(10)], now) == 1  # a known key is skipped
    assert _check(app) == {"queued": 11}

    claimed = store.claim_emails(app.session_factory, now, now, 4, LEASE, claimer=None)
    assert _check(app) == {"queued": 7, "sending": 4}

    # Delivery progress: sent (alone, and combined with the next email's start), failed to retry, given back.
    log = store.DeliveryLog(app.engine)
    assert log.begin_send(claimed[0], now)
    log.sent(claimed[0], "<p0@example.com>", now)
    assert log.begin_send(claimed[1], now)
    log.sent(claimed[1], "<p1@example.com>", now)
    assert log.begin_send(claimed[2], now)
    log.failed(claimed[2], "451 later", retry_at=now)
    log.give_back(claimed[3], now, "not attempted")
    log.close()
    assert _check(app) == {"queued": 8, "sent": 2, "failed": 1}

    # Claimed again; one reaches the terminator; the dispatcher dies; the reaper releases both kinds.
    claimed = store.claim_emails(app.session_factory, now, now, 3, LEASE, claimer=None)
    assert len(claimed) == 3
    log = store.DeliveryLog(app.engine)
    assert log.begin_send(claimed[0], now)
    log.close()
    assert _check(app)["sending"] == 3
    reaped = store.reap_expired_leases(app.session_factory, now + timedelta(hours=1), LEASE)
    assert reaped == {"requeued": 2, "outcome_unknown": 1}
    assert _check(app) == {"queued": 8, "sent": 2, "dead": 1}

    # Staff requeue one, then every outcome unknown; a dead-for-good send; release of unsent claims.
    dead_id = claimed[0].id
    with transaction(app.session_factory) as session:
        assert store.requeue(session, dead_id, now)
    assert _check(app) == {"queued": 9, "sent": 2}
    claimed = store.claim_emails(app.session_factory, now, now, 3, LEASE, claimer=None)
    log = store.DeliveryLog(app.engine)
    assert log.begin_send(claimed[0], now)
    log.failed(claimed[0], "550 no such user", retry_at=None)
    log.close()
    store.release_unsent(app.session_factory, claimed[1:], now, "server down")
    assert _check(app) == {"queued": 8, "sent": 2, "dead": 1}
    with transaction(app.session_factory) as session:
        session.execute(text("UPDATE email_outbox SET status = 'dead', last_error = :e WHERE id = :id"),
                        {"id": claimed[1].id, "e": store.OUTCOME_UNKNOWN})
        assert store.requeue_unknown(session, None, now) == 1
    assert _check(app) == {"queued": 8, "sent": 2, "dead": 1}

    # Withdrawn before sending (as the notifications do, statement by statement and as executemany).
    with transaction(app.session_factory) as session:
        assert store.withdraw_queued(session, ["key-5", "key-6"], "read meanwhile") == 2
        waiting = session.execute(text("SELECT id FROM email_outbox WHERE status = 'queued' ORDER BY id LIMIT 2")).scalars().all()
        session.execute(text("UPDATE email_outbox SET status = 'dead', last_error = :reason WHERE id = :id"),
                        [{"id": i, "reason": "read"} for i in waiting])
        # An update that leaves the status as it was, and one that names it without changing it.
        session.execute(text("UPDATE email_outbox SET attempts = attempts + 1"))
        session.execute(text("UPDATE email_outbox SET status = status, last_error = 'x' WHERE status = 'sent'"))
    assert _check(app) == {"queued": 4, "sent": 2, "dead": 5}

    # A rolled-back change leaves the counts as they were.
    with app.session_factory() as session:
        session.execute(text("UPDATE email_outbox SET status = 'sent' WHERE status = 'queued'"))
        session.rollback()
    assert _check(app) == {"queued": 4, "sent": 2, "dead": 5}

    with transaction(app.session_factory) as session:
        session.execute(text("DELETE FROM email_outbox WHERE status = 'dead' AND idempotency_key IN ('key-5', 'key-6')"))
    assert _check(app) == {"queued": 4, "sent": 2, "dead": 3}

    # Compaction folds the appended changes into one row per status; the counts stay.
    with app.session_factory() as session:
        rows_before = session.execute(text("SELECT count(*) FROM email_outbox_counts")).scalar_one()
    assert store.compact_status_counts(app.session_factory) == rows_before - 3
    with app.session_factory() as session:
        assert session.execute(text("SELECT count(*) FROM email_outbox_counts")).scalar_one() == 3
    assert store.compact_status_counts(app.session_factory) == 0
    assert _check(app) == {"queued": 4, "sent": 2, "dead": 3}
    with transaction(app.session_factory) as session:
        store.enqueue_notices(session, [_request(20)], now)
    assert _check(app) == {"queued": 5, "sent": 2, "dead": 3}

    if is_postgres(app.engine):
        with transaction(app.session_factory) as session:
            session.execute(text("TRUNCATE email_outbox"))
        assert _check(app) == {}


def test_counts_start_from_the_emails_already_there(db_url, app):
    """The migration counts existing emails: down to 0014 with emails in the outbox, up again."""
    from storage import migrations

    now = datetime.now(UTC)
    with transaction(app.session_factory) as session:
        store.enqueue_notices(session, [_request(n) for n in range(5)], now)
    store.claim_emails(app.session_factory, now, now, 2, LEASE, claimer=None)
    app.engine.dispose()
    migrations.downgrade(db_url, "0014")
    with app.engine.begin() as conn:
        conn.execute(text("UPDATE email_outbox SET status = 'dead' WHERE idempotency_key = 'key-4'"))
    app.engine.dispose()
    migrations.upgrade(db_url)
    assert _check(app) == {"queued": 2, "sending": 2, "dead": 1}


def test_counts_stay_exact_while_dispatchers_deliver_and_fold(pg_url):
    """PostgreSQL, concurrently: two dispatch loops claim and send, one loop folds the counts; every
    snapshot taken meanwhile (REPEATABLE READ, both reads in one) shows counts equal to a real count."""
    import threading

    from storage.db import make_engine, make_session_factory

    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    with transaction(factory) as session:
        store.enqueue_notices(session, [_request(n) for n in range(300)], now)
    done = threading.Event()
    errors: list[BaseException] = []
    folded: list[int] = []
    snapshots: list[dict[str, int]] = []

    def deliver() -> None:
        try:
            while claimed := store.claim_emails(factory, now, now, 10, LEASE):
                log = store.DeliveryLog(engine)
                for n, email in enumerate(claimed):
                    assert log.begin_send(email, now)
                    if n % 7 == 3:
                        log.failed(email, "550 gone", retry_at=None)
                    else:
                        log.sent(email, f"<{email.id}@test>", now)
                log.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def fold() -> None:
        try:
            while not done.is_set():
                folded.append(store.compact_status_counts(factory))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def look() -> None:
        try:
            while not done.is_set():
                with engine.connect() as conn:
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                    with conn.begin():
                        real = dict(conn.execute(text("SELECT status, count(*) FROM email_outbox GROUP BY status")).all())
                        counted = dict(conn.execute(text(
                            "SELECT status, sum(n) FROM email_outbox_counts GROUP BY status HAVING sum(n) <> 0")).all())
                assert counted == real, (counted, real)
                snapshots.append(real)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    helpers = [threading.Thread(target=fold), threading.Thread(target=look)]
    dispatchers = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in helpers + dispatchers:
        thread.start()
    for thread in dispatchers:
        thread.join()
    done.set()
    for thread in helpers:
        thread.join()
    engine.dispose()
    assert not errors, errors
    assert len(snapshots) > 3 and sum(folded) > 0
    final = make_engine(pg_url)
    with final.connect() as conn:
        real = dict(conn.execute(text("SELECT status, count(*) FROM email_outbox GROUP BY status")).all())
        assert outbox_counts(SessionReaderOn(conn)) == real
    final.dispose()
    assert set(real) == {"sent", "dead"} and real["sent"] + real["dead"] == 300


class SessionReaderOn:
    """A Reader on a Core connection (the test's own engine, no App)."""

    dialect = "postgresql"

    def __init__(self, conn) -> None:
        self.conn = conn

    def rows(self, sql, parameters=None):
        return [tuple(row) for row in self.conn.execute(text(sql), parameters or {})]
