"""Review services on SQLite and PostgreSQL: opening, reopening, alerts, decisions, strikes, stats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from pipeline.review import ReviewPolicy
from storage.db import transaction
from storage.models import OutboxEmail, ReviewHistory, ReviewItem, ReviewItemMessage, ReviewSignal, Strike, User
from tests.review.factories import T0, Marketplace, finding
from usecases import review

NOW = T0 + timedelta(hours=1)


@pytest.fixture
def market(app):
    with transaction(app.session_factory) as session:
        return Marketplace(session)


def _open(app, make_findings, now=NOW) -> list[int]:
    """Store findings with ``make_findings(session)`` and open their items, in one transaction."""
    with transaction(app.session_factory) as session:
        ids = [f.id for f in make_findings(session)]
        return review.open_items_for_findings(session, ids, app.settings, now)


def _item(app, item_id: int) -> ReviewItem:
    with app.session_factory() as session:
        return session.get(ReviewItem, item_id)


def _count(app, model, *where) -> int:
    with app.session_factory() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _emails(app, notice: str) -> list[OutboxEmail]:
    with app.session_factory() as session:
        return list(session.scalars(select(OutboxEmail).where(OutboxEmail.notice == notice).order_by(OutboxEmail.id)))


def _flag(app, market, body="text me 512 555 0100", kind="phone", value="+15125550100", score=0.9, sender=None, now=NOW):
    def make(session):
        msg = market.say(session, sender or market.seller, body)
        return [finding(session, msg, kind, value, score)]
    return _open(app, make, now)[0]


def _resolve(app, item_id, outcome="confirmed", by="ana@peermetals.com", now=NOW, **kwargs):
    with transaction(app.session_factory) as session:
        return review.resolve(session, item_id, outcome, by, now, app.settings, **kwargs)


def test_findings_on_one_message_make_one_item_with_a_signal_each(app, market):
    def make(session):
        msg = market.say(session, market.seller, "call 512 555 0100 or mail me@gold.example")
        return [finding(session, msg, "phone", "+15125550100", 0.8), finding(session, msg, "email", "me@gold.example", 0.95)]

    [item_id] = _open(app, make)
    item = _item(app, item_id)
    assert (item.status, item.kind, item.score, item.version) == ("pending", "email", 0.95, 2)
    assert item.subject_user_id == market.seller.id
    assert _count(app, ReviewSignal, ReviewSignal.item_id == item_id) == 2
    assert _count(app, ReviewHistory, ReviewHistory.action == "opened") == 1


def test_opening_again_with_the_same_findings_changes_nothing(app, market):
    item_id = _flag(app, market)
    with transaction(app.session_factory) as session:
        ids = list(session.scalars(select(ReviewSignal.finding_id)))
        assert review.open_items_for_findings(session, ids, app.settings, NOW) == []
    assert _item(app, item_id).version == 2
    assert _count(app, ReviewHistory) == 1


def test_split_attempt_window_is_one_incident_anchored_at_its_newest_message(app, market):
    def make(session):
        first = market.say(session, market.seller, "my number is 512 555")
        second = market.say(session, market.seller, "0100")
        market.window = [first.id, second.id]
        return [finding(session, second, "phone", "+15125550100", window=[first, second])]

    [item_id] = _open(app, make)
    item = _item(app, item_id)
    with app.session_factory() as session:
        finding_id = session.scalar(select(ReviewSignal.finding_id).where(ReviewSignal.item_id == item_id))
        messages = session.scalars(select(ReviewItemMessage.message_id).where(ReviewItemMessage.item_id == item_id)).all()
    assert item.target_key == f"incident:{market.conv.id}:{market.window[0]}:{finding_id}"
    assert item.message_id == market.window[1]
    assert sorted(messages) == market.window


def test_a_new_signal_on_a_resolved_target_reopens_it(app, market):
    def first(session):
        msg = market.say(session, market.seller, "text 512 555 0100 and venmo me")
        market.flagged = msg
        return [finding(session, msg, "phone", "+15125550100", 0.7)]

    [item_id] = _open(app, first)
    _resolve(app, item_id, "dismissed")
    later = NOW + timedelta(days=2)
    [again] = _open(app, lambda session: [finding(session, market.flagged, "payment", "venmo", 0.9, version="2026.12.1")], later)
    assert again == item_id
    item = _item(app, item_id)
    assert (item.status, item.kind, item.opened_at, item.resolved_at, item.resolved_by_id) == ("pending", "payment", later, None, None)
    with app.session_factory() as session:
        actions = [h.action for h in session.scalars(select(ReviewHistory).where(ReviewHistory.item_id == item_id).order_by(ReviewHistory.id))]
        outcomes = dict(session.execute(select(ReviewSignal.kind, ReviewSignal.outcome)).all())
    # A payment rail next to a phone number on the same message is payment diversion: alert.
    assert actions == ["opened", "resolved", "reopened", "staff_alerted"]
    # The old signal keeps its judgement; the new one waits for the next decision.
    assert outcomes == {"phone": "dismissed", "payment": None}


def test_high_severity_item_alerts_staff_exactly_once(app, market):
    def make(session):
        msg = market.say(session, market.seller, "pay by wire to DE89 3704 0044 0532 0130 00")
        market.flagged = msg
        return [finding(session, msg, "payment", "iban", 0.97)]

    [item_id] = _open(app, make)
    _open(app, lambda session: [finding(session, market.flagged, "payment", "wire", 0.8)])
    _resolve(app, item_id, "dismissed")
    _open(app, lambda session: [finding(session, market.flagged, "intent", "off_platform", 0.6)], NOW + timedelta(days=1))
    alerts = _emails(app, "flag-alert")
    assert len(alerts) == 1
    assert alerts[0].recipient_address == "safety@peermetals.com"
    assert alerts[0].idempotency_key == f"flag-alert:item:{item_id}"
    assert alerts[0].context["item_id"] == item_id and "DE89" in alerts[0].context["excerpt"]
    assert _item(app, item_id).high_severity
    assert _count(app, ReviewHistory, ReviewHistory.action == "staff_alerted") == 1


def test_ordinary_items_send_no_alert(app, market):
    _flag(app, market)
    _flag(app, market, body="pay with zelle", kind="payment", value="zelle")
    assert _emails(app, "flag-alert") == []


def test_queue_is_in_priority_order(app, market):
    intent_old = _flag(app, market, body="lets deal outside", kind="intent", value="off_platform", score=0.9, now=NOW - timedelta(days=3))
    phone_low = _flag(app, market, score=0.6)
    phone_high = _flag(app, market, score=0.95)
    payment = _flag(app, market, body="zelle me", kind="payment", value="zelle", score=0.8)
    phone_same_later = _flag(app, market, score=0.6, now=NOW + timedelta(minutes=5))
    phone_same_earlier = _flag(app, market, score=0.6, now=NOW - timedelta(minutes=5))
    with app.session_factory() as session:
        entries = review.list_queue(session, NOW + timedelta(minutes=10))
        only_payments = review.list_queue(session, NOW, kind="payment")
        top_two = review.list_queue(session, NOW, limit=2)
    assert [e.id for e in entries] == [payment, phone_high, phone_same_earlier, phone_low, phone_same_later, intent_old]
    assert [e.id for e in only_payments] == [payment]
    assert [e.id for e in top_two] == [payment, phone_high]
    assert entries[0].priority == pytest.approx(300 + 0.8 * 20 + 2 * (10 / 1440), abs=0.01)


def test_strikes_raise_the_priority_of_the_senders_pending_items(app, market):
    waiting = _flag(app, market, score=0.6)
    other = _flag(app, market, score=0.6, sender=market.buyer)
    _resolve(app, _flag(app, market, score=0.6))
    assert _item(app, waiting).priority == pytest.approx(_item(app, other).priority + 6, abs=0.01)


def test_claims_block_others_until_they_expire(app, market):
    item_id = _flag(app, market)
    policy = ReviewPolicy()
    with transaction(app.session_factory) as session:
        claimed = review.claim(session, item_id, "ana@peermetals.com", NOW, policy)
    assert claimed.claim_expires_at == NOW + timedelta(minutes=30)
    with pytest.raises(review.ClaimedByOther), transaction(app.session_factory) as session:
        review.claim(session, item_id, "bo@peermetals.com", NOW + timedelta(minutes=10), policy)
    with pytest.raises(review.ClaimedByOther):
        _resolve(app, item_id, by="bo@peermetals.com", now=NOW + timedelta(minutes=10))
    # The holder may decide; after expiry anyone may claim.
    with transaction(app.session_factory) as session:
        review.claim(session, item_id, "bo@peermetals.com", NOW + timedelta(minutes=31), policy)
    with app.session_factory() as session:
        assert review.list_queue(session, NOW + timedelta(minutes=32))[0].claimed_by == "bo@peermetals.com"
        assert review.list_queue(session, NOW + timedelta(minutes=90))[0].claimed_by is None


def test_confirmation_gives_a_strike_and_records_everything(app, market):
    item_id = _flag(app, market)
    result = _resolve(app, item_id, note="clear phone number")
    assert (result.status, result.active_strikes, result.steps) == ("confirmed", 1, ("warning_sent",))
    item = _item(app, item_id)
    assert (item.status, item.resolution_note, item.resolved_at, item.claimed_by_id) == ("confirmed", "clear phone number", NOW, None)
    with app.session_factory() as session:
        strike = session.scalar(select(Strike))
        signal = session.scalar(select(ReviewSignal))
    assert (strike.user_id, strike.item_id) == (market.seller.id, item_id)
    assert (signal.outcome, signal.decided_at) == ("confirmed", NOW)
    [warning] = _emails(app, "policy-warning")
    assert warning.recipient_address == market.seller.email
    assert warning.context["strike_count"] == 1


def test_dismissal_gives_no_strike(app, market):
    item_id = _flag(app, market)
    assert _resolve(app, item_id, "dismissed").strike_id is None
    assert _count(app, Strike) == 0 and _emails(app, "policy-warning") == []


def test_escalation_over_the_rolling_window(app, market):
    days = [0, 10, 20, 100, 110, 115]
    results = []
    for day in days:
        when = NOW + timedelta(days=day)
        results.append(_resolve(app, _flag(app, market, now=when), now=when))
    # The window is (now - 90 days, now]: on day 100 the strikes of days 0 and 10 have left it,
    # on day 110 the one of day 20 too, so day 115 is a third strike again.
    assert [r.active_strikes for r in results] == [1, 2, 3, 2, 2, 3]
    assert results[0].steps == ("warning_sent",)
    assert results[2].steps == ("user_restricted",)
    assert results[5].steps == ("user_restricted",)
    with app.session_factory() as session:
        assert session.get(User, market.seller.id).restricted
    assert len(_emails(app, "repeat-offender")) == 2
    assert _emails(app, "suspension-recommended") == []


def test_fifth_strike_recommends_suspension_and_restricted_senders_are_high_severity(app, market):
    for minute in range(5):
        when = NOW + timedelta(minutes=minute)
        result = _resolve(app, _flag(app, market, now=when), now=when)
    assert result.steps == ("suspension_recommended",)
    [alert] = _emails(app, "suspension-recommended")
    assert alert.context["strike_count"] == 5 and alert.recipient_address == "safety@peermetals.com"
    restricted_item = _flag(app, market, body="lets talk elsewhere", kind="intent", value="off_platform")
    assert _item(app, restricted_item).high_severity
    # Every item flagged after the third strike is high severity: items 4 and 5, and this one.
    keys = [e.idempotency_key for e in _emails(app, "flag-alert")]
    assert len(keys) == len(set(keys)) == 3 and keys[-1] == f"flag-alert:item:{restricted_item}"


def test_overturning_strikes_lifts_the_restriction(app, market):
    for minute in range(3):
        when = NOW + timedelta(minutes=minute)
        _resolve(app, _flag(app, market, now=when), now=when)
    with app.session_factory() as session:
        strike_id = session.scalars(select(Strike.id).order_by(Strike.id)).first()
    with transaction(app.session_factory) as session:
        strike = review.overturn_strike(session, strike_id, "bo@peermetals.com", NOW + timedelta(hours=1), app.settings)
    assert strike.overturned_at == NOW + timedelta(hours=1)
    with app.session_factory() as session:
        assert not session.get(User, market.seller.id).restricted
        assert review.active_strike_count(session, market.seller.id, NOW + timedelta(hours=1), ReviewPolicy()) == 2
        actions = list(session.scalars(select(ReviewHistory.action).where(ReviewHistory.item_id == strike.item_id)))
    assert actions[-2:] == ["strike_overturned", "user_unrestricted"]
    with pytest.raises(review.AlreadyResolved), transaction(app.session_factory) as session:
        review.overturn_strike(session, strike_id, "bo@peermetals.com", NOW + timedelta(hours=2), app.settings)


def test_refusals_change_nothing(app, market):
    item_id = _flag(app, market)
    with transaction(app.session_factory) as session:
        review.add_staff(session, "carl@peermetals.com", "Carl", NOW)
        session.execute(User.__table__.update().where(User.email == "carl@peermetals.com").values(role="member"))
    before = (_item(app, item_id).version, _count(app, ReviewHistory))
    cases = [
        (review.NotStaff, dict(item_id=item_id, by="seller@example.com")),
        (review.NotStaff, dict(item_id=item_id, by="nobody@example.com")),
        (review.NotStaff, dict(item_id=item_id, by="carl@peermetals.com")),
        (review.ItemNotFound, dict(item_id=999_999, by="ana@peermetals.com")),
        (review.UnknownOutcome, dict(item_id=item_id, by="ana@peermetals.com", outcome="maybe")),
        (review.VersionConflict, dict(item_id=item_id, by="ana@peermetals.com", expected_version=1)),
    ]
    for error, kwargs in cases:
        with pytest.raises(error):
            _resolve(app, kwargs.pop("item_id"), kwargs.pop("outcome", "confirmed"), kwargs.pop("by"), **kwargs)
    assert (_item(app, item_id).version, _count(app, ReviewHistory)) == before
    _resolve(app, item_id, "ignored")
    with pytest.raises(review.AlreadyResolved):
        _resolve(app, item_id, "confirmed")
    assert _item(app, item_id).status == "ignored" and _count(app, Strike) == 0


def test_stale_version_is_a_conflict_and_nothing_is_overwritten(app, market):
    item_id = _flag(app, market)
    seen = _item(app, item_id).version
    _resolve(app, item_id, "dismissed", by="bo@peermetals.com", note="first")
    # A second reviewer who read the item before bo decided, deciding on what they saw:
    with transaction(app.session_factory) as session:
        session.execute(ReviewItem.__table__.update().where(ReviewItem.id == item_id).values(status="pending"))
    with pytest.raises(review.VersionConflict):
        _resolve(app, item_id, "confirmed", note="second", expected_version=seen)
    item = _item(app, item_id)
    assert (item.resolution_note, _count(app, Strike)) == ("first", 0)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_reviewers_resolving_at_once_one_wins(app, market):
    """On PostgreSQL: the loser read the item before the winner committed, and gets a conflict."""
    import threading

    item_id = _flag(app, market)
    first = app.session_factory()
    first.begin()
    review.resolve(first, item_id, "confirmed", "ana@peermetals.com", NOW, app.settings, note="ana")
    outcome: dict[str, object] = {}

    def second_reviewer():
        try:
            _resolve(app, item_id, "dismissed", by="bo@peermetals.com", note="bo")
            outcome["result"] = "won"
        except review.ReviewError as exc:
            outcome["result"] = exc

    thread = threading.Thread(target=second_reviewer)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive(), "the second UPDATE must wait for the first reviewer's row lock"
    first.commit()
    first.close()
    thread.join(timeout=10)
    assert isinstance(outcome["result"], review.VersionConflict)
    item = _item(app, item_id)
    assert (item.status, item.resolution_note) == ("confirmed", "ana")
    assert _count(app, Strike) == 1
    assert _count(app, ReviewHistory, ReviewHistory.action == "resolved") == 1


def test_show_item_marks_findings_and_gives_context(app, market):
    def make(session):
        for n in range(7):
            market.say(session, market.buyer, f"before {n}")
        msg = market.say(session, market.seller, "call 512 555 0100 today")
        for n in range(7):
            market.say(session, market.buyer, f"after {n}")
        return [finding(session, msg, "phone", "+15125550100", start=5, end=17)]

    [item_id] = _open(app, make)
    with transaction(app.session_factory) as session:
        review.claim(session, item_id, "ana@peermetals.com", NOW, ReviewPolicy())
    with app.session_factory() as session:
        detail = review.show_item(session, item_id, NOW)
    texts = [m.text for m in detail.messages]
    assert texts == [f"before {n}" for n in range(2, 7)] + ["call [[512 555 0100]] today"] + [f"after {n}" for n in range(5)]
    assert [m.flagged for m in detail.messages].count(True) == 1
    assert detail.item.claimed_by == "ana@peermetals.com"
    assert [h["action"] for h in detail.history] == ["opened", "claimed"]
    assert detail.history[1]["actor"] == "ana@peermetals.com"
    with pytest.raises(review.ItemNotFound), app.session_factory() as session:
        review.show_item(session, 424242, NOW)


def test_detector_stats_from_decisions(app, market):
    decided = [("confirmed", 0.9), ("confirmed", 0.8), ("dismissed", 0.6), ("ignored", 0.5)]
    for n, (outcome, score) in enumerate(decided):
        _resolve(app, _flag(app, market, score=score), outcome, now=NOW + timedelta(minutes=10 * (n + 1)))
    _flag(app, market, kind="email", value="x@gold.example")
    with app.session_factory() as session:
        stats = {(s.kind, s.detector_version): s for s in review.detector_stats(session)}
    phone = stats[("phone", "2026.11.1")]
    assert (phone.items, phone.confirmed, phone.dismissed, phone.ignored) == (4, 2, 1, 1)
    assert phone.precision == pytest.approx(2 / 3)
    assert phone.interval == pytest.approx((0.2077, 0.9385), abs=1e-4)
    assert phone.median_seconds_to_decision == pytest.approx(25 * 60)
    email = stats[("email", "2026.11.1")]
    assert (email.items, email.precision, email.interval) == (1, None, None)


def test_add_staff_promotes_or_creates(app, market):
    with transaction(app.session_factory) as session:
        promoted, created = review.add_staff(session, "Seller@Example.com", None, NOW)
        assert (promoted.id, created, promoted.role) == (market.seller.id, False, "staff")
        fresh, created = review.add_staff(session, "dee@peermetals.com", "Dee", NOW)
        assert (fresh.external_id, fresh.name, created) == ("staff:dee@peermetals.com", "Dee", True)
    with app.session_factory() as session:
        assert review.require_staff(session, "DEE@peermetals.com").id == fresh.id
    assert _count(app, ReviewHistory, ReviewHistory.action == "staff_added") == 2


def test_a_restriction_ends_when_its_strikes_age_out_of_the_window(app, market):
    from usecases.review import housekeeping as review_housekeeping

    for minute in range(3):
        when = NOW + timedelta(minutes=minute)
        _resolve(app, _flag(app, market, now=when), now=when)
    pending = _flag(app, market, body="lets talk elsewhere", kind="intent", value="off_platform", now=NOW + timedelta(days=1))
    assert _item(app, pending).high_severity  # flagged while restricted
    # Day 89: the three strikes are still inside the 90-day window.
    assert review_housekeeping(app, NOW + timedelta(days=89)) == {}
    with app.session_factory() as session:
        assert session.get(User, market.seller.id).restricted
    # Day 91: they have aged out; the sweep lifts the restriction once, as the system, and re-ranks.
    assert review_housekeeping(app, NOW + timedelta(days=91)) == {"restrictions_lifted": 1}
    assert review_housekeeping(app, NOW + timedelta(days=92)) == {}
    with app.session_factory() as session:
        assert not session.get(User, market.seller.id).restricted
        [entry] = session.scalars(select(ReviewHistory).where(ReviewHistory.action == "user_unrestricted")).all()
    assert entry.actor_id is None and entry.item_id is None and "fewer than 3 strikes in the last 90 days" in entry.note
    assert not _item(app, pending).high_severity


def test_run_once_includes_the_review_stage():
    from actors.stages import STAGES

    assert [stage.name for stage in STAGES] == ["scan", "attachment_scan", "review", "responses", "transcripts", "webhooks",
                                                  "notifications", "mail"]


def test_listing_uses_the_queue_and_decided_indexes(pg_url):
    from sqlalchemy import create_engine, text
    from sqlalchemy.dialects import postgresql

    from storage.review import queue_query

    def plan(connection, status: str) -> str:
        query = queue_query(status, None, 50).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        return "\n".join(row[0] for row in connection.execute(text(f"EXPLAIN {query}")))

    engine = create_engine(pg_url)
    try:
        with engine.connect() as connection:
            # On an almost empty table the planner would scan it anyway; forbid that to see which
            # index answers each listing.
            connection.execute(text("SET enable_seqscan = off"))
            assert "ix_review_items_queue" in plan(connection, "pending")
            assert "ix_review_items_decided" in plan(connection, "confirmed")
    finally:
        engine.dispose()


def test_detector_stats_in_sql_match_the_reference_rule(app, market):
    # Several detectors, reopened items (two signals, the newest outcome stands), pending ones.
    from pipeline.review import SignalDecision, detector_precision

    for n in range(7):
        when = NOW + timedelta(minutes=7 * n)
        kind, value = (("phone", "+15125550100"), ("email", "x@gold.example"), ("payment", "zelle"))[n % 3]
        item_id = _flag(app, market, kind=kind, value=value, score=0.5 + n / 20, now=when)
        if n % 4 != 3:
            _resolve(app, item_id, ("confirmed", "dismissed", "ignored")[n % 3], now=when + timedelta(minutes=n + 1))
    with app.session_factory() as session:
        rows = session.execute(select(ReviewSignal.kind, ReviewSignal.detector_version, ReviewSignal.item_id,
                                      ReviewSignal.outcome, ReviewSignal.created_at, ReviewSignal.decided_at)
                               .order_by(ReviewSignal.id)).all()
        reference = detector_precision(
            SignalDecision(kind, version, item, outcome, (decided - created).total_seconds() if decided else None)
            for kind, version, item, outcome, created, decided in rows
        )
        assert review.detector_stats(session) == reference
    assert len(reference) == 3
