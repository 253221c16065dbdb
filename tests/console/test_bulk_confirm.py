"""Bulk-confirm on SQLite and PostgreSQL: every pending item of one sender in one conversation, at
once; one strike per incident; all or nothing; never about the reviewer; each decision audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.models import AuditEntry, ReviewItem, Strike
from tests.console.cast import NOW, PASSWORD
from tests.review.factories import conversation, finding, message, user
from usecases import console, review, staff


def _reviewer(app, email="ana@peermetals.com"):
    return staff.sign_in(app, email, PASSWORD, "10.0.0.1", NOW)[1]


def _flag(app, market, sender, body: str, kind: str = "phone") -> int:
    with transaction(app.session_factory) as session:
        msg = market.say(session, sender, body)
        return review.open_items_for_findings(session, [finding(session, msg, kind, body[-12:]).id], app.settings, NOW)[0]


def _statuses(app, item_ids) -> dict[int, str]:
    with app.session_factory() as session:
        return dict(session.execute(select(ReviewItem.id, ReviewItem.status).where(ReviewItem.id.in_(item_ids))).all())


def _strikes(app) -> list[tuple[int, int]]:
    with app.session_factory() as session:
        return list(session.execute(select(Strike.user_id, Strike.item_id).order_by(Strike.id)).all())


def test_bulk_confirm_decides_exactly_the_senders_pending_items_in_that_conversation(app, market):
    seller_items = [_flag(app, market, market.seller, f"call 512 555 01{n:02d}") for n in range(3)]
    buyer_item = _flag(app, market, market.buyer, "my number 512 555 0199")
    with transaction(app.session_factory) as session:
        elsewhere = conversation(session, user(session, "other buyer"), session.get(type(market.seller), market.seller.id))
        msg = message(session, elsewhere, market.seller, "zelle me 512 555 0177", 90)
        other_item = review.open_items_for_findings(session, [finding(session, msg, "payment", "zelle").id], app.settings, NOW)[0]
    ana = _reviewer(app)
    assert console.item_page(app, ana, seller_items[1], NOW).sender_pending == seller_items

    done = console.confirm_sender_items(app, ana, seller_items[1], "Phone number shared", "three in a row", NOW, "10.0.0.1")

    assert list(done.items) == seller_items
    assert _statuses(app, seller_items) == dict.fromkeys(seller_items, "confirmed")
    assert _statuses(app, [buyer_item, other_item]) == {buyer_item: "pending", other_item: "pending"}
    # One strike per incident: three separate incidents, three strikes, all on the seller.
    assert _strikes(app) == [(market.seller.id, item) for item in seller_items] and len(done.strikes) == 3
    with app.session_factory() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "resolve").order_by(AuditEntry.id)))
    assert [e.subject for e in entries] == [f"item {i}" for i in seller_items]
    assert {e.note for e in entries} == {"Phone number shared — three in a row"}
    assert all(e.detail["bulk"] == seller_items and e.actor == "ana@peermetals.com" for e in entries)


def test_one_incident_over_several_messages_gives_one_strike(app, market):
    with transaction(app.session_factory) as session:
        parts = [market.say(session, market.seller, text) for text in ("512", "555", "0100 text me")]
        split = finding(session, parts[-1], "phone", "+15125550100", window=parts)
        single = finding(session, parts[-1], "phone", "+15125550100", start=5)
        items = review.open_items_for_findings(session, [split.id, single.id], app.settings, NOW)
    assert len(set(items)) == 1  # the findings share messages: one incident, one item
    done = console.confirm_sender_items(app, _reviewer(app), items[0], None, None, NOW)
    assert len(done.items) == 1 and len(_strikes(app)) == 1


def test_bulk_confirm_is_all_or_nothing_when_another_reviewer_holds_a_claim(app, market):
    first, second = (_flag(app, market, market.seller, f"call 512 555 02{n:02d}") for n in range(2))
    bo, ana = _reviewer(app, "bo@peermetals.com"), _reviewer(app)
    console.claim(app, bo, second, NOW)
    with pytest.raises(review.ClaimedByOther):
        console.confirm_sender_items(app, ana, first, None, None, NOW)
    assert _statuses(app, [first, second]) == {first: "pending", second: "pending"}
    assert _strikes(app) == []


def test_bulk_confirm_is_refused_on_ones_own_account_and_on_a_resolved_sender(app, market):
    with transaction(app.session_factory) as session:
        other = user(session, "eve")
        own = conversation(session, market.staff, other)
        msgs = [message(session, own, market.staff, f"call me 512 555 03{n:02d}", 60 + n) for n in range(2)]
        own_items = review.open_items_for_findings(session, [finding(session, m, "phone", "x").id for m in msgs], app.settings, NOW)
    ana = _reviewer(app)
    with pytest.raises(console.OwnAccount):
        console.confirm_sender_items(app, ana, own_items[0], None, None, NOW)
    assert set(_statuses(app, own_items).values()) == {"pending"}

    item = _flag(app, market, market.seller, "call 512 555 0400")
    console.resolve(app, ana, item, "dismissed", None, None, NOW)
    with pytest.raises(review.AlreadyResolved):
        console.confirm_sender_items(app, ana, item, None, None, NOW)
    assert _strikes(app) == []
