"""``peerguard sellers``, ``peerguard run --once`` and the scheduler's advisory lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from peerguard.cli import main
from peerguard.cli.sellers import _table
from pipeline.responses import SellerResponseStats
from storage.db import make_engine, transaction
from storage.locks import SCHEDULER_LOCK_KEY, LeaderLock
from storage.models import EmailPreference
from tests.responses.factories import conversation, hours, message, user
from usecases.app import App
from usecases.response_stats import SellerStatsRow
from usecases.settings import Settings


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "PEERGUARD_DATA_DIR": str(tmp_path / "data"),
            "EMAIL_URL": (tmp_path / "outbox").as_uri(), "PEERGUARD_SECRET_KEY": "test"}


def seed(env: dict[str, str]) -> str:
    """Two conversations of one seller; returns the seller's marketplace id."""
    context = App.from_settings(Settings.from_environment(env))
    with transaction(context.session_factory) as s:
        buyer, seller = user(s, "B", "b@example.com"), user(s, "Sam", "sam@example.com")
        conv = conversation(s, buyer, seller)
        message(s, conv, buyer, hours(0))
        message(s, conv, seller, hours(0.5))
        message(s, conversation(s, buyer, seller), buyer, hours(1))
        seller_id = seller.external_id
    context.dispose()
    return seller_id


def test_run_once_then_sellers_stats_json(env, tmp_path):
    seller_id = seed(env)
    runner = CliRunner()
    result = runner.invoke(main, ["run", "--once", "--now", hours(3).isoformat()], env=env)
    assert result.exit_code == 0, result.output
    assert "responses" in result.output and "mail" in result.output
    eml = list((tmp_path / "outbox").glob("*.eml"))
    assert len(eml) == 1 and b"X-PeerGuard-Notice: response-reminder" in eml[0].read_bytes()
    again = runner.invoke(main, ["run", "--once", "--now", hours(3).isoformat()], env=env)
    assert again.exit_code == 0 and len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    stats = runner.invoke(main, ["sellers", "stats", "--json", "--now", hours(30).isoformat()], env=env)
    assert stats.exit_code == 0, stats.output
    (row,) = json.loads(stats.output)
    assert row["email"] == "sam@example.com" and row["obligations"] == 2
    assert row["seller_id"] == seller_id  # the marketplace's id, never PeerGuard's row id
    assert row["median_response_seconds"] == 1800 and row["share_within_1h"] == 0.5
    table = runner.invoke(main, ["sellers", "stats", "--now", hours(30).isoformat()], env=env)
    assert "sam@example.com" in table.output and "30m" in table.output


def test_sellers_reminders_off_and_unknown_email(env):
    seed(env)
    runner = CliRunner()
    assert runner.invoke(main, ["sellers", "reminders", "sam@example.com", "off"], env=env).exit_code == 0
    context = App.from_settings(Settings.from_environment(env))
    with context.session_factory() as s:
        assert s.scalars(select(EmailPreference.response_reminders_opted_out)).all() == [True]
    context.dispose()
    missing = runner.invoke(main, ["sellers", "reminders", "nobody@example.com", "off"], env=env)
    assert missing.exit_code == 4 and "no user" in missing.output


def test_only_one_scheduler_holds_the_advisory_lock(pg_url):
    engine = make_engine(pg_url)
    leader, standby = LeaderLock(engine), LeaderLock(engine)
    assert leader.try_acquire()
    try:
        with engine.connect() as other:
            from sqlalchemy import text

            got = other.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEDULER_LOCK_KEY}).scalar()
            assert got is False
        assert not standby.try_acquire() and leader.still_held()
    finally:
        leader.release()
    assert standby.try_acquire()  # a standby takes over once the leader lets go
    standby.release()
    engine.dispose()


def test_sqlite_scheduler_needs_no_lock(sqlite_url):
    engine = make_engine(sqlite_url)
    lock = LeaderLock(engine)
    assert not lock.needed and lock.try_acquire() and lock.still_held()
    engine.dispose()


def test_actor_messages_carry_only_json():
    from actors.outbox import dispatch_outbox
    from actors.responses import response_sweep

    for actor in (response_sweep, dispatch_outbox):
        message = actor.message()
        assert json.loads(json.dumps({"args": message.args, "kwargs": message.kwargs})) == {"args": [], "kwargs": {}}


def test_outbox_status_list_and_requeue(env):
    from datetime import UTC, datetime

    from storage.outbox import NoticeRequest, enqueue_notices

    context = App.from_settings(Settings.from_environment(env))
    with transaction(context.session_factory) as s:
        enqueue_notices(s, [NoticeRequest("flag-alert", "not an address", "", {}, "k1")], datetime.now(UTC))
    context.dispose()
    runner = CliRunner()
    assert runner.invoke(main, ["run", "--once"], env=env).exit_code == 0
    listed = runner.invoke(main, ["outbox", "list", "--json"], env=env)
    (item,) = json.loads(listed.output)
    assert item["to"] == "not an address" and "cannot build message" in item["last_error"]
    assert "dead     1" in runner.invoke(main, ["outbox", "status"], env=env).output
    assert runner.invoke(main, ["outbox", "requeue", str(item["id"])], env=env).exit_code == 0
    assert runner.invoke(main, ["outbox", "requeue", "999"], env=env).exit_code == 4


def _reference_table(rows) -> list[str]:
    """The table as `sellers stats` wrote it before each median and pair of shares was formatted only once."""
    def duration(seconds):
        if seconds is None:
            return "-"
        minutes = round(seconds / 60)
        return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"

    def share(value):
        return "-" if value is None else f"{value:.0%}"

    lines = [f"{'seller':<32} {'asked':>6} {'answered':>8} {'median':>9} {'<=1h':>6} {'<=24h':>6}"]
    for row in rows:
        s = row.stats
        lines.append(f"{(row.email or row.name)[:32]:<32} {s.obligations:>6} {s.answered:>8} "
                     f"{duration(s.median_response_seconds):>9} {share(s.share_within_target):>6} {share(s.share_within_limit):>6}")
    return lines


# Medians on and around half minutes (where round() goes either way) and anything up to two days;
# shares as hits / decided, so that equal values come from different sellers.
_MEDIANS = st.one_of(st.none(), st.integers(0, 3000).map(lambda half_minutes: half_minutes * 30.0),
                     st.integers(0, 3000).flatmap(lambda k: st.sampled_from([k * 30 - 1e-6, k * 30 + 1e-6, k * 30 + 0.5])),
                     st.floats(0, 2 * 86400, allow_nan=False))
_SHARES = st.one_of(st.none(), st.integers(1, 12).flatmap(lambda n: st.integers(0, n).map(lambda k: k / n)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=40), st.one_of(st.none(), st.text(max_size=40)), st.integers(0, 10**6),
                          st.integers(0, 10**6), _MEDIANS, _SHARES, _SHARES), max_size=40))
def test_the_table_is_what_formatting_every_line_on_its_own_gave(drawn):
    rows = [SellerStatsRow(n, f"u-{n}", email, name, SellerResponseStats(asked, answered, median, target, limit))
            for n, (name, email, asked, answered, median, target, limit) in enumerate(drawn)]
    assert _table(iter(rows)) == _reference_table(rows)
