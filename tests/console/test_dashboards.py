"""The dashboards use case on SQLite and PostgreSQL: precision per detector with its interval,
the queue's size and age buckets, and the slowest sellers by median response time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.review import wilson_interval
from storage.db import transaction
from tests.responses import factories as rf
from tests.review.factories import T0, Marketplace, finding
from usecases import dashboards, review, staff
from usecases.responses import sync_new_messages

NOW = T0 + timedelta(days=10)


def _flag(app, market, body: str, kind: str, version: str, opened_at) -> int:
    with transaction(app.session_factory) as session:
        msg = market.say(session, market.seller, body)
        return review.open_items_for_findings(session, [finding(session, msg, kind, body, version=version).id], app.settings,
                                              opened_at)[0]


def test_precision_queue_age_and_counts(app):
    with transaction(app.session_factory) as session:
        market = Marketplace(session)
        staff.add_account(session, "ana@peermetals.com", "moderator", T0)
    outcomes = ["confirmed"] * 3 + ["dismissed"] + ["ignored"]
    for n, outcome in enumerate(outcomes):
        item = _flag(app, market, f"call 512 555 01{n:02d}", "phone", "v1", T0)
        with transaction(app.session_factory) as session:
            review.resolve(session, item, outcome, "ana@peermetals.com", T0 + timedelta(minutes=10), app.settings)
    # Pending: two payments opened 30 min and 2 days ago, one email opened 9 days ago.
    for body, kind, age in (("zelle me", "payment", timedelta(minutes=30)), ("venmo me", "payment", timedelta(days=2)),
                            ("mail me at a@b.co", "email", timedelta(days=9))):
        _flag(app, market, body, kind, "v2", NOW - age)

    page = dashboards.dashboards(app, NOW)

    phone = next(d for d in page.detectors if (d.kind, d.detector_version) == ("phone", "v1"))
    assert (phone.items, phone.confirmed, phone.dismissed, phone.ignored) == (5, 3, 1, 1)
    assert phone.precision == 0.75 and phone.interval == wilson_interval(3, 4)
    row = page.precision_chart.rows[page.detectors.index(phone)]
    low, high = wilson_interval(3, 4)
    assert row.label == "phone v1" and row.value_label == f"75% ({low * 100:.0f}–{high:.0%})"
    assert row.point_x == pytest.approx(page.precision_chart.plot_left + 0.75 * page.precision_chart.plot_width)
    pending = [d for d in page.detectors if d.detector_version == "v2"]
    assert all(d.precision is None for d in pending) and {d.kind for d in pending} == {"payment", "email"}

    assert page.pending_total == 3 and [(k.kind, k.count) for k in page.pending] == [("payment", 2), ("email", 1)]
    assert page.oldest_age_seconds == pytest.approx(9 * 86400)
    assert [(a.label, a.count) for a in page.ages] == [("under 1 h", 1), ("1–6 h", 0), ("6–24 h", 0), ("1–3 days", 1),
                                                        ("3–7 days", 0), ("over 7 days", 1)]
    assert [b.label for b in page.kinds_chart.bars] == ["payment", "email"]
    assert page.kinds_chart.bars[0].width == pytest.approx(2 * page.kinds_chart.bars[1].width)


def test_sellers_are_ranked_slowest_first_by_their_marketplace_ids(app):
    with transaction(app.session_factory) as session:
        buyer = rf.user(session, "Buyer", "buyer@example.com")
        sellers = {name: rf.user(session, name, f"{name.lower()}@example.com") for name in ("Quick", "Slow", "Silent")}
        for name, reply_after in (("Quick", 0.25), ("Slow", 5.0), ("Silent", None)):
            conv = rf.conversation(session, buyer, sellers[name])
            rf.message(session, conv, buyer, rf.hours(0))
            if reply_after is not None:
                rf.message(session, conv, sellers[name], rf.hours(reply_after))
        ids = {name: row.external_id for name, row in sellers.items()}
    sync_new_messages(app, rf.hours(6))

    page = dashboards.dashboards(app, rf.hours(30))

    shown = [page.seller_ids[s.seller_id] for s in page.sellers]
    assert shown == [ids["Slow"], ids["Quick"]]  # Silent never answered: no median to rank
    assert [b.label for b in page.sellers_chart.bars] == shown
    assert [b.value_label for b in page.sellers_chart.bars] == ["5.0 h", "15 min"]
    assert page.sellers_chart.bars[0].width > 10 * page.sellers_chart.bars[1].width
