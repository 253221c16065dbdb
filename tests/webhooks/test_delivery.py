"""Webhook events and their delivery to a real receiver on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from storage.db import transaction
from storage.http import WebhookPoster
from storage.webhooks import events_of_type
from tests.webhooks.receiver import Receiver
from usecases import webhooks

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


def endpoint(app, receiver, events=("*",)) -> int:
    endpoint_id, secret = webhooks.add_endpoint(app, receiver.url, events, NOW)
    receiver.secret = secret
    return endpoint_id


def emit(app, event_type: str, user: str, **data) -> str:
    with transaction(app.session_factory) as session:
        return webhooks.record(session, event_type, user, {"user": user, **data}, NOW)


def test_an_event_exists_only_if_its_decision_committed(app, receiver):
    endpoint(app, receiver)
    with pytest.raises(RuntimeError), transaction(app.session_factory) as session:
        webhooks.record(session, "strike.issued", "u-17", {"user": "u-17"}, NOW)
        raise RuntimeError("the decision failed")
    emit(app, "strike.overturned", "u-17", strike=4)
    with app.session_factory() as session:
        assert [e[1] for e in events_of_type(session)] == ["strike.overturned"]
    assert webhooks.deliver_due(app, NOW) == {"delivered": 1}
    [got] = receiver.accepted()
    assert got.type == "strike.overturned" and got.data == {"user": "u-17", "strike": 4}


def test_deliveries_are_signed_and_a_wrong_secret_is_refused(app, receiver):
    endpoint(app, receiver)
    receiver.secret = "whsec_" + "A" * 44  # the receiver now expects another secret
    emit(app, "user.restricted", "u-3")
    counts = webhooks.deliver_due(app, NOW)
    assert counts == {"retry": 1} and receiver.accepted() == []


def test_order_holds_per_user_while_one_fails(app, receiver):
    endpoint(app, receiver)
    first = emit(app, "message.flagged", "u-1")
    second = emit(app, "review.resolved", "u-1")
    other = emit(app, "message.flagged", "u-2")
    receiver.fail_once_for = {"u-1"}  # u-1's first delivery fails once
    webhooks.deliver_due(app, NOW)
    ids = [r.webhook_id for r in receiver.accepted()]
    assert other in ids and first not in ids and second not in ids  # u-1's second waits behind its first
    webhooks.deliver_due(app, NOW + timedelta(seconds=6))  # after the first backoff step
    assert [r.webhook_id for r in receiver.accepted() if r.data["user"] == "u-1"] == [first, second]


def test_every_event_is_delivered_once_by_webhook_id_and_redelivery_keeps_it(app, receiver):
    endpoint(app, receiver)
    sent = [emit(app, "message.flagged", f"u-{i % 7}", n=i) for i in range(60)]
    assert webhooks.deliver_due(app, NOW) == {"delivered": 60}
    assert webhooks.deliver_due(app, NOW + timedelta(minutes=5)) == {}
    assert sorted(r.webhook_id for r in receiver.accepted()) == sorted(sent)
    for user in {f"u-{i % 7}" for i in range(60)}:
        ns = [r.data["n"] for r in receiver.accepted() if r.data["user"] == user]
        assert ns == sorted(ns)
    [latest] = webhooks.deliveries(app, status="delivered", limit=1)
    assert webhooks.redeliver(app, latest.id, NOW)
    webhooks.deliver_due(app, NOW)
    assert [r.webhook_id for r in receiver.accepted()].count(latest.event_id) == 2


def test_410_disables_the_endpoint_and_nothing_is_lost(app, receiver):
    endpoint_id = endpoint(app, receiver)
    receiver.answers = [410]
    kept = emit(app, "transcript.ready", "c-9")
    assert webhooks.deliver_due(app, NOW) == {"endpoint_disabled": 1}
    [row] = webhooks.endpoints(app)
    assert row.status == "disabled" and "410" in row.disabled_reason
    emit(app, "transcript.ready", "c-9")  # recorded while disabled: waits too
    assert webhooks.deliver_due(app, NOW + timedelta(hours=1)) == {}
    assert webhooks.enable_endpoint(app, endpoint_id, NOW)
    assert webhooks.deliver_due(app, NOW + timedelta(hours=1)) == {"delivered": 2}
    assert receiver.accepted()[0].webhook_id == kept


def test_a_receiver_down_for_a_day_is_retried_then_dead_and_the_endpoint_disabled(app):
    endpoint_id, _ = webhooks.add_endpoint(app, "http://127.0.0.1:9/hooks", ["*"], NOW)  # nothing listens on port 9
    emit(app, "response.breached", "u-5")
    moments = [NOW + timedelta(seconds=s) for s in (0, 6, 40, 200, 900, 3000, 7000, 14000)]
    moments += [NOW + timedelta(hours=h) for h in (6, 10, 14, 18, 22, 24, 26)]
    outcomes = [webhooks.deliver_due(app, when) for when in moments]
    assert outcomes[0] == {"retry": 1}
    assert any(o.get("dead") for o in outcomes) and any(o.get("endpoint_disabled") for o in outcomes)
    [row] = webhooks.deliveries(app, endpoint_id)
    assert row.status == "dead" and row.attempts >= 8 and row.last_status is None


def test_a_slow_receiver_counts_as_a_failure_and_is_retried(app, receiver):
    endpoint(app, receiver)
    receiver.delay = 1.5
    emit(app, "strike.issued", "u-8")
    impatient = WebhookPoster(timeout=httpx.Timeout(0.5))
    try:
        assert webhooks.deliver_due(app, NOW, poster=impatient) == {"retry": 1}
    finally:
        impatient.close()
    receiver.delay = 0
    assert webhooks.deliver_due(app, NOW + timedelta(seconds=6)) == {"delivered": 1}


def test_endpoints_only_get_the_events_they_asked_for(app, receiver):
    endpoint(app, receiver, events=("strike.issued", "strike.overturned"))
    emit(app, "message.flagged", "u-1")
    emit(app, "strike.issued", "u-1")
    webhooks.deliver_due(app, NOW)
    assert [r.type for r in receiver.accepted()] == ["strike.issued"]


def test_bad_endpoints_are_refused(app):
    for url, events in (("ftp://x/y", ["*"]), ("http://127.0.0.1/h", ["nope.event"]), ("not a url", ["*"])):
        with pytest.raises(webhooks.WebhookError):
            webhooks.add_endpoint(app, url, events, NOW)
