"""The outbox dispatcher against a real aiosmtpd server: delivery, retries, rejection, races, crashes."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage import outbox as store
from storage.db import transaction
from storage.models import OutboxEmail
from storage.outbox import NoticeRequest, enqueue_notices
from tests.responses.factories import conversation, hours, message, user
from tests.responses.factories import sweep_and_deliver as run_once
from tests.responses.smtp_server import RecordingHandler, free_port, start_server
from usecases.app import App
from usecases.notices import LEASE, deliver_outbox
from usecases.settings import Settings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def make_context(db_url: str, tmp_path: Path, port: int) -> App:
    settings = Settings.from_environment({
        "PEERGUARD_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": db_url,
        "EMAIL_URL": f"smtp://127.0.0.1:{port}?timeout=5", "PEERGUARD_SECRET_KEY": "test",
    })
    return App.from_settings(settings)


@pytest.fixture
def server():
    handler = RecordingHandler()
    controller = start_server(handler)
    yield handler, controller
    if controller._thread is not None:
        controller.stop()


def enqueue(context: App, count: int, address: str = "seller{}@example.com") -> None:
    requests = [
        NoticeRequest("flag-alert", address.format(n), f"Staff {n}",
                      {"item_id": n, "kind": "payment", "sender_email": "x@example.com", "excerpt": "iban", "review_url": "https://peermetals.com/r"},
                      f"test:{n}")
        for n in range(count)
    ]
    with transaction(context.session_factory) as s:
        enqueue_notices(s, requests, NOW)


def statuses(context: App) -> Counter[str]:
    with context.session_factory() as s:
        return Counter(s.scalars(select(OutboxEmail.status)))


def test_enqueue_is_idempotent_per_key(db_url, tmp_path, server):
    context = make_context(db_url, tmp_path, server[1].port)
    enqueue(context, 3)
    enqueue(context, 3)
    assert statuses(context) == {"queued": 3}


def test_run_once_delivers_reminder_over_smtp_and_repeat_sends_nothing(db_url, tmp_path, server):
    handler, controller = server
    context = make_context(db_url, tmp_path, controller.port)
    with transaction(context.session_factory) as s:
        buyer, seller = user(s, "B", "b@example.com"), user(s, "Sam", "sam@example.com")
        message(s, conversation(s, buyer, seller), buyer, hours(0))
    for _ in range(3):
        run_once(context, hours(1.5))
    assert [m["X-PeerGuard-Notice"] for m in handler.messages] == ["response-reminder"]
    (row,) = _rows(context)
    assert row.status == "sent" and row.provider_message_id.startswith("2.0.0 Ok: queued as")
    assert handler.messages[0].get_body(("html",)) is not None
    context.dispose()


def test_server_down_then_back_retries_with_backoff(db_url, tmp_path):
    handler = RecordingHandler()
    port = free_port()
    context = make_context(db_url, tmp_path, port)
    enqueue(context, 5)
    counts = deliver_outbox(context, NOW, workers=1)
    # A server that never answered received nothing: every email goes back to the queue, and
    # the outage does not use up any email's attempts.
    assert counts == {"deferred": 5}
    assert statuses(context) == {"queued": 5}
    controller = start_server(handler, port=port)
    try:
        assert deliver_outbox(context, NOW + timedelta(seconds=30)) == {}  # everything backs off a minute
        assert deliver_outbox(context, NOW + timedelta(minutes=2)).get("sent") == 5
    finally:
        controller.stop()
    assert statuses(context) == {"sent": 5} and len(handler.messages) == 5
    assert max(r.attempts for r in _rows(context)) == 1
    context.dispose()


def test_permanent_rejection_and_temporary_deferral(db_url, tmp_path, server):
    handler, controller = server
    context = make_context(db_url, tmp_path, controller.port)
    with transaction(context.session_factory) as s:
        enqueue_notices(s, [
            NoticeRequest("flag-alert", addr, "", {"item_id": 1, "kind": "k", "sender_email": "e", "excerpt": "x", "review_url": "u"}, addr)
            for addr in ("reject@example.com", "defer@example.com", "ok@example.com", "not an address")
        ], NOW)
    deliver_outbox(context, NOW)
    rows = {r.recipient_address: r for r in _rows(context)}
    assert rows["reject@example.com"].status == "dead" and "550" in rows["reject@example.com"].last_error
    assert rows["defer@example.com"].status == "failed" and "451" in rows["defer@example.com"].last_error
    assert rows["not an address"].status == "dead" and rows["not an address"].attempts == 0
    assert rows["ok@example.com"].status == "sent" and len(handler.messages) == 1
    context.dispose()


def test_two_dispatchers_racing_send_each_email_once(pg_url, tmp_path, server):
    handler, controller = server
    contexts = [make_context(pg_url, tmp_path, controller.port) for _ in range(2)]
    enqueue(contexts[0], 300)
    barrier = threading.Barrier(2)
    results: list[dict[str, int]] = []

    def dispatch(context: App) -> None:
        barrier.wait()
        results.append(deliver_outbox(context, NOW, batch_size=20))

    threads = [threading.Thread(target=dispatch, args=(c,)) for c in contexts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [m["Message-ID"] for m in handler.messages]
    assert len(ids) == len(set(ids)) == 300
    assert sum(r.get("sent", 0) for r in results) == 300 and all(r.get("sent") for r in results)
    for context in contexts:
        context.dispose()


def test_crash_after_handing_to_server_is_never_resent(db_url, tmp_path, server):
    handler, controller = server
    context = make_context(db_url, tmp_path, controller.port)
    enqueue(context, 2)
    real_now = datetime.now(UTC)
    claimed = store.claim_emails(context.session_factory, NOW, real_now, 10, LEASE)
    # Row 0: the dispatcher committed send_started_at and then died (the server may have it).
    progress = store.DeliveryLog(context.engine)
    assert progress.begin_send(claimed[0], real_now)
    progress.close()
    # Row 1: claimed but never handed over before the crash.
    later = lambda: real_now + LEASE + timedelta(seconds=1)  # noqa: E731
    counts = deliver_outbox(context, NOW, clock=later)
    assert counts["outcome_unknown"] == 1 and counts["requeued"] == 1 and counts["sent"] == 1
    rows = {r.idempotency_key: r for r in _rows(context)}
    assert rows[claimed[0].idempotency_key].status == "dead"
    assert rows[claimed[0].idempotency_key].last_error.startswith("outcome unknown")
    assert rows[claimed[1].idempotency_key].status == "sent" and len(handler.messages) == 1
    context.dispose()


def test_a_dispatcher_that_lost_its_claim_does_not_send(db_url, tmp_path, server):
    handler, controller = server
    context = make_context(db_url, tmp_path, controller.port)
    enqueue(context, 1)
    real_now = datetime.now(UTC)
    (stale,) = store.claim_emails(context.session_factory, NOW, real_now, 10, LEASE)
    store.reap_expired_leases(context.session_factory, real_now + LEASE * 2, LEASE)  # the lease is taken away
    progress = store.DeliveryLog(context.engine)
    assert not progress.begin_send(stale, real_now)
    progress.close()
    context.dispose()


def _rows(context: App) -> list[OutboxEmail]:
    with context.session_factory() as s:
        return list(s.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


def test_a_stopping_dispatcher_finishes_its_email_and_gives_the_rest_back(db_url, tmp_path, server):
    handler, controller = server
    context = make_context(db_url, tmp_path, controller.port)
    enqueue(context, 30)
    sent_before_stop = 7

    def stopping() -> bool:
        return len(handler.messages) >= sent_before_stop

    counts = deliver_outbox(context, NOW, batch_size=20, workers=1, stopping=stopping)
    assert counts["sent"] == sent_before_stop and counts["released"] == 20 - sent_before_stop
    assert len(handler.messages) == sent_before_stop
    # Nothing is left claimed: the given-back rows are queued again, unstarted, and go out next run.
    assert statuses(context) == {"sent": sent_before_stop, "queued": 30 - sent_before_stop}
    with context.session_factory() as s:
        assert s.scalar(select(OutboxEmail.id).where(OutboxEmail.status == "queued", OutboxEmail.send_started_at.is_not(None))) is None
    assert deliver_outbox(context, NOW, batch_size=20, workers=1)["sent"] == 30 - sent_before_stop
    ids = [m["Message-ID"] for m in handler.messages]
    assert len(ids) == len(set(ids)) == 30
    context.dispose()
