"""Deadlines and the due-sweep on SQLite and PostgreSQL, through ``run_once``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from actors.stages import STAGES
from storage.db import transaction
from storage.mail import PermanentDeliveryError, transport_from_url
from storage.models import OutboxEmail, ResponseDeadline, ResponseDeadlineEvent
from storage.responses import set_response_reminders
from tests.responses.factories import conversation, hours, message, user
from tests.responses.factories import sweep_and_deliver as run_once
from usecases.app import App
from usecases.responses import seller_response_stats
from usecases.settings import Settings


@pytest.fixture
def ctx(db_url: str, tmp_path: Path, request):
    name = "deadlines-" + "".join(c if c.isalnum() else "-" for c in request.node.name)
    settings = Settings.from_environment({
        "PEERGUARD_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": db_url,
        "EMAIL_URL": f"memory://{name}", "PEERGUARD_SECRET_KEY": "test",
    })
    context = App.from_settings(settings)
    transport = transport_from_url(settings.email_url)
    transport.sent.clear()
    yield context, transport
    context.dispose()


def seed(context: App, email: str | None = "seller@example.com", **seller_kwargs):
    with transaction(context.session_factory) as s:
        buyer = user(s, "Buyer", "buyer@example.com")
        seller = user(s, "Sam Seller", email, **seller_kwargs)
        conv = conversation(s, buyer, seller)
        message(s, conv, buyer, hours(0))
        return buyer.id, seller.id, conv.id


def notices(transport) -> list[str]:
    return [m["X-PeerGuard-Notice"] for m in transport.sent]


def deadlines(context: App) -> list[ResponseDeadline]:
    with context.session_factory() as s:
        return list(s.scalars(select(ResponseDeadline).order_by(ResponseDeadline.id)))


def test_runner_lists_responses_then_mail_last():
    names = [stage.name for stage in STAGES]
    assert names.index("responses") < names.index("mail") == len(names) - 1


def test_full_lifecycle_sends_each_stage_once(ctx):
    context, transport = ctx
    seed(context)
    assert run_once(context, hours(0.5)).get("sync_opened") == 1
    for at in (1, 1, 1.5, 20, 20, 24, 24, 30):
        run_once(context, hours(at))
    assert notices(transport) == ["response-reminder", "response-final-warning", "response-breach"]
    (row,) = deadlines(context)
    assert row.stage_sent == 3 and row.breached_at == hours(24) and row.next_due_at is None
    reminder = transport.sent[0]
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert reminder["To"].addresses[0].addr_spec == "seller@example.com"


def test_late_sweep_sends_only_the_latest_stage(ctx):
    context, transport = ctx
    seed(context)
    run_once(context, hours(30))
    assert notices(transport) == ["response-breach"]
    with context.session_factory() as s:
        kinds = [e.detail for e in s.scalars(select(ResponseDeadlineEvent).where(ResponseDeadlineEvent.kind == "stage"))]
    assert kinds == ["send; superseded response-reminder,response-final-warning"]


def test_seller_answer_stops_the_clock_and_records_response_time(ctx):
    context, transport = ctx
    _, seller_id, conv_id = seed(context)
    run_once(context, hours(0.5))
    with transaction(context.session_factory) as s:
        from storage.models import Conversation, User
        conv, seller = s.get(Conversation, conv_id), s.get(User, seller_id)
        message(s, conv, seller, hours(0.75))
    run_once(context, hours(30))
    (row,) = deadlines(context)
    assert (row.response_seconds, row.next_due_at, row.stage_sent) == (45 * 60, None, 0)
    assert notices(transport) == []


def test_reminder_at_night_is_held_until_seven_local(ctx):
    context, transport = ctx
    with transaction(context.session_factory) as s:
        buyer, seller = user(s, "B", "b@example.com"), user(s, "S", "s@example.com", tz="Europe/Berlin")
        conv = conversation(s, buyer, seller)
        message(s, conv, buyer, hours(9))  # 21:00 UTC = 23:00 CEST; reminder due 00:00 CEST
    run_once(context, hours(10))
    assert notices(transport) == []
    (row,) = deadlines(context)
    assert row.next_due_at == hours(17)  # 07:00 CEST = 05:00 UTC next day
    run_once(context, hours(17))
    assert notices(transport) == ["response-reminder"]


def test_away_seller_gets_no_email_and_is_left_out_of_stats(ctx):
    context, transport = ctx
    seed(context, away=True)
    run_once(context, hours(25))
    assert notices(transport) == []
    (row,) = deadlines(context)
    assert row.away and row.breached_at is not None
    (stats_row,) = seller_response_stats(context, hours(26))
    assert stats_row.stats.obligations == 0


def test_opted_out_seller_gets_no_reminders_but_the_breach_notice(ctx):
    context, transport = ctx
    _, seller_id, _ = seed(context)
    with transaction(context.session_factory) as s:
        set_response_reminders(s, seller_id, True, hours(0))
    for at in (1, 20, 24):
        run_once(context, hours(at))
    assert notices(transport) == ["response-breach"]


def test_seller_without_email_is_recorded_without_outbox_row(ctx):
    context, transport = ctx
    seed(context, email=None)
    run_once(context, hours(1))
    assert deadlines(context)[0].stage_sent == 1
    with context.session_factory() as s:
        assert s.scalars(select(OutboxEmail)).all() == []


def test_invalid_timezone_uses_utc_and_says_so_once(ctx, caplog):
    from usecases import responses

    context, transport = ctx
    responses._reported_zones.clear()  # ids repeat across the SQLite and PostgreSQL runs
    seed(context, tz="Mars/Olympus_Mons")
    with caplog.at_level(logging.WARNING, logger="usecases.responses"):
        run_once(context, hours(1))
        run_once(context, hours(20))
    assert notices(transport) == ["response-reminder", "response-final-warning"]
    assert sum("unknown time zone" in r.message for r in caplog.records) == 1


def test_permanent_rejection_is_recorded_dead_and_not_retried(ctx):
    context, transport = ctx
    seed(context, email="gone@example.com")
    transport.failures["gone@example.com"] = PermanentDeliveryError("550 no such user")
    run_once(context, hours(1))
    run_once(context, hours(3))
    with context.session_factory() as s:
        (row,) = s.scalars(select(OutboxEmail)).all()
    assert (row.status, row.attempts, row.last_error) == ("dead", 1, "550 no such user")


def test_stats_median_and_shares(ctx):
    context, _ = ctx
    with transaction(context.session_factory) as s:
        buyer, seller = user(s, "B", "b@example.com"), user(s, "S", "s@example.com")
        for start, reply in ((0, 0.5), (2, 4), (5, None)):
            conv = conversation(s, buyer, seller)
            message(s, conv, buyer, hours(start))
            if reply is not None:
                message(s, conv, seller, hours(reply))
    run_once(context, hours(6))
    (row,) = seller_response_stats(context, hours(40))
    assert row.stats.obligations == 3 and row.stats.median_response_seconds == 75 * 60
    assert row.stats.share_within_target == pytest.approx(1 / 3)
    assert row.stats.share_within_limit == pytest.approx(2 / 3)


def test_reminder_still_queued_when_the_seller_answers_is_withdrawn(ctx):
    from storage.models import Conversation, User
    from usecases.responses import sweep as sweep_responses

    context, transport = ctx
    _, seller_id, conv_id = seed(context)
    sweep_responses(context, hours(1))  # queued, not yet delivered
    with transaction(context.session_factory) as s:
        message(s, s.get(Conversation, conv_id), s.get(User, seller_id), hours(1.1))
    run_once(context, hours(1.2))
    assert notices(transport) == []
    with context.session_factory() as s:
        (row,) = s.scalars(select(OutboxEmail)).all()
    assert row.status == "dead" and row.last_error.startswith("withdrawn")
