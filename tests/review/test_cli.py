"""The review commands end to end, in a subprocess: output, and one exit status per refusal."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from storage.db import transaction
from storage.models import ReviewHistory, ReviewItem, Strike
from tests.review.conftest import PEERGUARD
from tests.review.factories import Marketplace, finding
from usecases import review


@pytest.fixture
def flagged(app):
    """Two pending items from the seller: a payment attempt and a phone number."""
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    with transaction(app.session_factory) as session:
        market = Marketplace(session)
        pay = market.say(session, market.seller, "send it by zelle please")
        phone = market.say(session, market.seller, "or text 512 555 0100")
        ids = [finding(session, pay, "payment", "zelle", 0.9).id, finding(session, phone, "phone", "+15125550100", 0.8).id]
        return review.open_items_for_findings(session, ids, app.settings, now)


def _state(app) -> tuple:
    """Everything a refused command must leave alone."""
    with app.session_factory() as session:
        items = session.execute(select(ReviewItem.id, ReviewItem.status, ReviewItem.version, ReviewItem.claimed_by_id)
                                .order_by(ReviewItem.id)).all()
        return (tuple(map(tuple, items)), session.scalar(select(func.count()).select_from(ReviewHistory)),
                session.scalar(select(func.count()).select_from(Strike)))


def test_list_show_claim_resolve_stats(cli, flagged):
    payment, phone = flagged
    listed = cli("review", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [payment, phone]
    assert [json.loads(line)["id"] for line in cli("review", "list", "--kind", "phone", "--json").stdout.splitlines()] == [phone]
    table = cli("review", "list", "--limit", "1")
    assert table.returncode == 0 and str(payment) in table.stdout and "zelle" not in table.stdout
    shown = cli("review", "show", str(payment))
    assert shown.returncode == 0, shown.stderr
    assert "[[send it by zelle please]]" in shown.stdout and "or text 512 555 0100" in shown.stdout
    assert cli("review", "claim", str(payment), "--by", "ana@peermetals.com").returncode == 0
    resolved = cli("review", "resolve", str(payment), "--outcome", "confirmed", "--by", "ana@peermetals.com", "--note", "zelle ask")
    assert resolved.returncode == 0, resolved.stderr
    assert "strike" in resolved.stdout and "warning_sent" in resolved.stdout
    assert cli("review", "list", "--status", "confirmed", "--json").stdout.count('"id"') == 1
    stats = cli("stats", "detectors", "--json")
    rows = {json.loads(line)["kind"]: json.loads(line) for line in stats.stdout.splitlines()}
    assert rows["payment"]["confirmed"] == 1 and rows["payment"]["precision"] == 1.0
    assert rows["phone"]["items"] == 1 and rows["phone"]["precision"] is None
    assert "PRECISION" in cli("stats", "detectors").stdout


@pytest.mark.parametrize(("args", "status", "message"), [
    (["review", "resolve", "999999", "--outcome", "confirmed", "--by", "ana@peermetals.com"], 3, "no review item 999999"),
    (["review", "show", "999999"], 3, "no review item"),
    (["review", "claim", "999999", "--by", "ana@peermetals.com"], 3, "no review item"),
    (["review", "resolve", "{payment}", "--outcome", "maybe", "--by", "ana@peermetals.com"], 2, "'maybe' is not one of"),
    (["review", "resolve", "{payment}", "--outcome", "confirmed", "--by", "seller@example.com"], 6, "not a staff member"),
    (["review", "claim", "{payment}", "--by", "nobody@example.com"], 6, "not a staff member"),
    (["review", "resolve", "{payment}", "--outcome", "confirmed"], 2, "Missing option '--by'"),
    (["strikes", "overturn", "999999", "--by", "ana@peermetals.com"], 3, "no strike 999999"),
    (["strikes", "overturn", "999999", "--by", "seller@example.com"], 6, "not a staff member"),
    (["staff", "add", "not-an-address"], 2, "not a plain email address"),
])
def test_bad_input_is_refused_with_its_exit_status(app, cli, flagged, args, status, message):
    before = _state(app)
    result = cli(*[a.format(payment=flagged[0]) for a in args])
    assert result.returncode == status, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert _state(app) == before


def test_already_resolved_and_claimed_by_someone_else(app, cli, flagged):
    payment, phone = flagged
    assert cli("review", "resolve", str(payment), "--outcome", "dismissed", "--by", "bo@peermetals.com").returncode == 0
    assert cli("review", "claim", str(phone), "--by", "ana@peermetals.com").returncode == 0
    before = _state(app)
    again = cli("review", "resolve", str(payment), "--outcome", "confirmed", "--by", "ana@peermetals.com")
    assert (again.returncode, "already dismissed" in again.stderr) == (4, True)
    taken = cli("review", "resolve", str(phone), "--outcome", "confirmed", "--by", "bo@peermetals.com")
    assert (taken.returncode, "claimed by someone else" in taken.stderr) == (5, True)
    stolen = cli("review", "claim", str(phone), "--by", "bo@peermetals.com")
    assert stolen.returncode == 5
    assert _state(app) == before


def test_staff_add_then_review_and_overturn_twice(app, cli, flagged):
    payment, _ = flagged
    created = cli("staff", "add", "dee@peermetals.com", "--name", "Dee")
    assert created.returncode == 0 and "created staff user" in created.stdout
    assert cli("review", "resolve", str(payment), "--outcome", "confirmed", "--by", "dee@peermetals.com").returncode == 0
    with app.session_factory() as session:
        strike_id = session.scalar(select(Strike.id))
    assert cli("strikes", "overturn", str(strike_id), "--by", "dee@peermetals.com").returncode == 0
    before = _state(app)
    twice = cli("strikes", "overturn", str(strike_id), "--by", "dee@peermetals.com")
    assert (twice.returncode, "already overturned" in twice.stderr) == (4, True)
    assert _state(app) == before
    shown = cli("review", "show", str(payment), "--json")
    history = [h["action"] for h in json.loads(shown.stdout)["history"]]
    assert history[-3:] == ["strike_issued", "warning_sent", "strike_overturned"]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_concurrent_decision_exits_with_conflict(app, cli, flagged, tmp_path):
    """The CLI reads the item while another decision is uncommitted, then loses the race: exit 7."""
    import time

    from sqlalchemy import text

    payment, _ = flagged
    first = app.session_factory()
    first.begin()
    review.resolve(first, payment, "dismissed", "bo@peermetals.com", datetime.now(timezone.utc), app.settings, note="bo")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env |= {"DATABASE_URL": app.settings.database_url, "PEERGUARD_DATA_DIR": str(tmp_path / "data")}
    second = subprocess.Popen([PEERGUARD, "review", "resolve", str(payment), "--outcome", "confirmed", "--by", "ana@peermetals.com"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    deadline = time.monotonic() + 90
    # Autocommit, because pg_stat_activity is a snapshot taken once per transaction.
    with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        while watcher.execute(text(waiting)).scalar() == 0 and second.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        watcher_saw_wait = watcher.execute(text(waiting)).scalar() > 0
    first.commit()
    first.close()
    _, stderr = second.communicate(timeout=60)
    assert watcher_saw_wait, "the CLI never waited on the row lock"
    assert second.returncode == 7, stderr
    assert "changed by someone else" in stderr
    with app.session_factory() as session:
        item = session.get(ReviewItem, payment)
        assert (item.status, item.resolution_note) == ("dismissed", "bo")
        assert session.scalar(select(func.count()).select_from(Strike)) == 0
