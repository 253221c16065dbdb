"""One incident, one item: the scanner and the queue on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from storage.db import transaction
from storage.models import Message, ReviewHistory, ReviewItem, ReviewItemMessage, ReviewSignal, Strike
from tests.review.factories import T0, Marketplace, finding
from usecases import review
from usecases.scanning import scan_batch

NOW = T0 + timedelta(hours=1)
SPLIT = ["my cell is 415", "555", "0199 text me"]


@pytest.fixture
def market(app):
    with transaction(app.session_factory) as session:
        return Marketplace(session)


def _say(app, market, *texts, sender=None) -> list[int]:
    with transaction(app.session_factory) as session:
        return [market.say(session, sender or market.seller, text).id for text in texts]


def _open(app, make, now=NOW) -> list[int]:
    with transaction(app.session_factory) as session:
        return review.open_items_for_findings(session, [f.id for f in make(session)], app.settings, now)


def _resolve(app, item_id, outcome="confirmed", now=NOW):
    with transaction(app.session_factory) as session:
        return review.resolve(session, item_id, outcome, "ana@peermetals.com", now, app.settings)


def _state(app) -> dict:
    """Everything a re-scan must leave alone."""
    with app.session_factory() as session:
        return {
            "items": [(i.id, i.status, i.version, i.kind) for i in session.scalars(select(ReviewItem).order_by(ReviewItem.id))],
            "signals": session.execute(select(ReviewSignal.id, ReviewSignal.item_id).order_by(ReviewSignal.id)).all(),
            "strikes": session.scalar(select(func.count()).select_from(Strike)),
            "history": session.scalar(select(func.count()).select_from(ReviewHistory)),
        }


def _items(app, status=None) -> list[ReviewItem]:
    with app.session_factory() as session:
        query = select(ReviewItem).order_by(ReviewItem.id)
        return list(session.scalars(query if status is None else query.where(ReviewItem.status == status)))


def _history(app, item_id) -> list[tuple[str, str | None]]:
    with app.session_factory() as session:
        return session.execute(select(ReviewHistory.action, ReviewHistory.note).where(ReviewHistory.item_id == item_id)
                               .order_by(ReviewHistory.id)).all()


def test_split_phone_ending_in_text_me_is_one_item_one_strike_and_a_rescan_changes_nothing(app, market):
    ids = _say(app, market, "how can I reach you?", sender=market.buyer) + _say(app, market, *SPLIT)
    counts = scan_batch(app, ids, NOW)
    assert (counts["findings"], counts["review_items"]) == (2, 1)
    [item] = _items(app)
    with app.session_factory() as session:
        kinds = sorted(session.scalars(select(ReviewSignal.kind).where(ReviewSignal.item_id == item.id)))
        messages = sorted(session.scalars(select(ReviewItemMessage.message_id).where(ReviewItemMessage.item_id == item.id)))
    assert kinds == ["intent", "phone"]
    assert messages == ids[1:]
    assert (item.kind, item.subject_user_id, item.message_id) == ("phone", market.seller.id, ids[-1])

    result = _resolve(app, item.id)
    assert (result.status, result.active_strikes) == ("confirmed", 1)
    with app.session_factory() as session:
        assert session.scalars(select(Strike.item_id)).all() == [item.id]

    before = _state(app)
    with app.session_factory.begin() as session:
        session.execute(update(Message).values(scanned_at=None))
    assert scan_batch(app, ids, NOW + timedelta(hours=1)) == {"messages": 4, "findings": 0, "review_items": 0}
    assert _state(app) == before


def test_two_attempts_without_shared_messages_stay_two_items(app, market):
    first = _say(app, market, *SPLIT)
    first += _say(app, market, "I would rather keep it here, is the coin graded?", sender=market.buyer)
    second = _say(app, market, "Yes it is graded MS70 by PCGS and ships tomorrow morning.",
                  "Or pay me by zelle to save the fees on this one, thanks a lot for asking")
    scan_batch(app, first + second, NOW)
    items = _items(app)
    assert [(i.kind, i.message_id) for i in items] == [("phone", first[2]), ("payment", second[1])]


def test_a_later_finding_joins_the_pending_item_it_overlaps(app, market):
    def intent(session):
        market.messages = [market.say(session, market.seller, text) for text in SPLIT]
        return [finding(session, market.messages[2], "intent", "contact_me", 0.7)]

    [item_id] = _open(app, intent)
    later = NOW + timedelta(minutes=5)
    assert _open(app, lambda s: [finding(s, market.messages[2], "phone", "+14155550199", window=market.messages)], later) == [item_id]
    [item] = _items(app)
    assert (item.kind, item.status, item.opened_at) == ("phone", "pending", NOW)
    assert [action for action, _ in _history(app, item_id)] == ["opened", "signal_added"]


def test_a_finding_bridging_two_items_merges_them_and_strikes_once(app, market):
    def two_items(session):
        market.messages = [market.say(session, market.seller, text) for text in ("telegram", "is my app", "text me")]
        return [finding(session, market.messages[0], "handle", "telegram", 0.6),
                finding(session, market.messages[2], "intent", "contact_me", 0.7)]

    first, second = _open(app, two_items)
    _resolve(app, first)  # a strike on the first item
    later = NOW + timedelta(hours=2)
    [survivor] = _open(app, lambda s: [finding(s, market.messages[2], "handle", "telegram:app", window=market.messages)], later)
    assert survivor == first  # it already gave a strike
    merged = _items(app, "merged")
    assert [(i.id, i.merged_into_id) for i in merged] == [(second, first)]
    with app.session_factory() as session:
        assert set(session.scalars(select(ReviewSignal.item_id))) == {first}
        assert sorted(session.scalars(select(ReviewItemMessage.message_id).where(ReviewItemMessage.item_id == first))) == \
            [m.id for m in market.messages]
    assert ("merged", f"items {second} merged into this one (a new finding shares their messages)") in _history(app, first)
    assert ("merged", f"merged into item {first}") in _history(app, second)
    assert _items(app, "pending")[0].id == first  # reopened with the new evidence
    assert _resolve(app, first, now=later).strike_id is None
    with app.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Strike)) == 1
    with pytest.raises(review.AlreadyResolved):
        _resolve(app, second, now=later)
    with app.session_factory() as session:
        detail = review.show_item(session, second, later)
    assert detail.item.status == "merged" and detail.signals == []


def test_a_finding_on_an_item_decided_long_ago_opens_a_new_item(app, market):
    def old(session):
        market.messages = [market.say(session, market.seller, text) for text in SPLIT]
        return [finding(session, market.messages[2], "intent", "contact_me", 0.7)]

    [old_item] = _open(app, old)
    _resolve(app, old_item)
    much_later = NOW + timedelta(days=91)
    [new_item] = _open(app, lambda s: [finding(s, market.messages[2], "phone", "+14155550199", window=market.messages)], much_later)
    assert new_item != old_item
    assert [i.status for i in _items(app)] == ["confirmed", "pending"]
    assert _resolve(app, new_item, now=much_later).strike_id is not None


def test_review_list_and_show_present_the_incident(app, market):
    ids = _say(app, market, *SPLIT)
    scan_batch(app, ids, NOW)
    with app.session_factory() as session:
        [entry] = review.list_queue(session, NOW)
        detail = review.show_item(session, entry.id, NOW)
    assert entry.kind == "phone"
    assert sorted(s["kind"] for s in detail.signals) == ["intent", "phone"]
    assert [m.flagged for m in detail.messages] == [True, True, True]


def test_concurrent_scanners_of_one_incident_open_one_item(pg_url, tmp_path):
    """Two transactions opening overlapping findings at once: the second waits and joins the first's item."""
    from actors.app import BrokerDoorbell
    from usecases.app import App
    from usecases.settings import Settings

    settings = Settings.from_environment({"PEERGUARD_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": pg_url,
                                          "EMAIL_URL": (tmp_path / "outbox").as_uri()})
    app = App.from_settings(settings, BrokerDoorbell())
    try:
        with transaction(app.session_factory) as session:
            market = Marketplace(session)
            messages = [market.say(session, market.seller, text) for text in SPLIT]
            intent = finding(session, messages[2], "intent", "contact_me", 0.7).id
            window = finding(session, messages[2], "phone", "+14155550199", window=messages).id
        first = app.session_factory()
        first.begin()
        [first_item] = review.open_items_for_findings(first, [window], settings, NOW)
        opened: list[int] = []

        def second_scanner():
            with transaction(app.session_factory) as session:
                opened.extend(review.open_items_for_findings(session, [intent], settings, NOW))

        thread = threading.Thread(target=second_scanner)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive()  # waiting for the conversation lock
        first.commit()
        first.close()
        thread.join(timeout=30)
        assert opened == [first_item]
        with app.session_factory() as session:
            assert session.scalar(select(func.count()).select_from(ReviewItem)) == 1
    finally:
        app.dispose()


def test_cli_lists_and_shows_merged_items(app, market, cli):
    def two_items(session):
        market.messages = [market.say(session, market.seller, text) for text in ("telegram", "is my app", "text me")]
        return [finding(session, market.messages[0], "handle", "telegram", 0.6),
                finding(session, market.messages[2], "intent", "contact_me", 0.7)]

    first, second = _open(app, two_items)
    _open(app, lambda s: [finding(s, market.messages[2], "handle", "telegram:app", window=market.messages)])
    listed = cli("review", "list", "--status", "merged", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [second]
    shown = cli("review", "show", str(second))
    assert shown.returncode == 0, shown.stderr
    assert f"into item {first}, which holds its signals now" in shown.stdout
    assert json.loads(cli("review", "show", str(second), "--json").stdout)["merged_into"] == first
    pending = cli("review", "show", str(first), "--json")
    assert sorted(s["kind"] for s in json.loads(pending.stdout)["signals"]) == ["handle", "handle", "intent"]
