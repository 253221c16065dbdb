"""Staff console use cases on SQLite and PostgreSQL: sign-in limits, session expiry, claim next,
own-account refusals, the audited reveal, decisions and overturns, and the append-only audit log."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from storage.db import transaction
from storage.models import AuditEntry, StaffSession
from tests.console.cast import NOW, PASSWORD
from tests.review.factories import Marketplace, conversation, finding, message, user
from usecases import console, review, staff


def _sign_in(app, email="ana@peermetals.com", password=PASSWORD, address="10.0.0.1", now=NOW):
    return staff.sign_in(app, email, password, address, now)


def _flag(app, market, sender=None, minute_body="text me 512 555 0100") -> int:
    with transaction(app.session_factory) as session:
        msg = market.say(session, sender or market.seller, minute_body)
        return review.open_items_for_findings(session, [finding(session, msg, "phone", "+15125550100").id], app.settings, NOW)[0]


def _audit(app, action=None) -> list[AuditEntry]:
    with app.session_factory() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        return list(session.scalars(query.where(AuditEntry.action == action) if action else query))


def test_sign_in_gives_a_session_whose_token_is_stored_only_hashed(app, market):
    token, who = _sign_in(app)
    assert (who.email, who.role) == ("ana@peermetals.com", "moderator")
    assert staff.authenticate(app, token, NOW + timedelta(minutes=1)).user_id == who.user_id
    with app.session_factory() as session:
        stored = session.scalars(select(StaffSession.token_sha256)).all()
    assert token not in stored and len(stored) == 1
    assert [a.actor for a in _audit(app, "sign_in")] == ["ana@peermetals.com"]


def test_wrong_password_and_unknown_email_are_refused_alike(app, market):
    with pytest.raises(staff.SignInRefused):
        _sign_in(app, password="wrong password here")
    with pytest.raises(staff.SignInRefused):
        _sign_in(app, email="nobody@peermetals.com")
    assert len(_audit(app, "sign_in_failed")) == 2


def test_five_failures_lock_the_account_for_fifteen_minutes_even_with_the_right_password(app, market):
    for i in range(staff.MAX_FAILURES_PER_ACCOUNT):
        with pytest.raises(staff.SignInRefused):
            _sign_in(app, password="nope nope nope", address=f"10.0.1.{i}", now=NOW + timedelta(seconds=i))
    with pytest.raises(staff.TooManyAttempts):
        _sign_in(app, address="10.9.9.9", now=NOW + timedelta(minutes=1))
    _sign_in(app, email="bo@peermetals.com", address="10.9.9.9", now=NOW + timedelta(minutes=1))  # others unaffected
    _sign_in(app, now=NOW + timedelta(minutes=16))  # the window passed


def test_failures_from_one_address_lock_that_address(app, market):
    for i in range(staff.MAX_FAILURES_PER_ADDRESS):
        with pytest.raises(staff.SignInRefused):
            _sign_in(app, email=f"guess{i}@peermetals.com", address="10.6.6.6", now=NOW + timedelta(seconds=i))
    with pytest.raises(staff.TooManyAttempts):
        _sign_in(app, address="10.6.6.6", now=NOW + timedelta(minutes=1))
    _sign_in(app, address="10.0.0.2", now=NOW + timedelta(minutes=1))


def test_sessions_end_after_30_idle_minutes_and_after_12_hours(app, market):
    token, _ = _sign_in(app)
    assert staff.authenticate(app, token, NOW + timedelta(minutes=31)) is None
    assert staff.authenticate(app, token, NOW + timedelta(minutes=1)) is None  # ended for good
    token, _ = _sign_in(app, now=NOW)
    for step in range(1, 29):  # a request every 25 minutes, up to 11 h 40
        assert staff.authenticate(app, token, NOW + step * timedelta(minutes=25)) is not None
    assert staff.authenticate(app, token, NOW + timedelta(hours=12, minutes=5)) is None


def test_removed_staff_lose_their_sessions_and_roles_are_per_area(app, market):
    token, who = _sign_in(app)
    assert who.may("queue") and not who.may("conversations") and not who.may("admin")
    assert staff.may("admin", "conversations") and staff.may("disputes", "conversations") and not staff.may("disputes", "queue")
    with transaction(app.session_factory) as session:
        staff.remove_account(session, "ana@peermetals.com", NOW)
    assert staff.authenticate(app, token, NOW + timedelta(minutes=1)) is None
    with app.session_factory() as session:
        assert review.store.staff_member(session, "ana@peermetals.com") is None
    assert [a.detail for a in _audit(app, "role_change")][-1] == {"from": "moderator", "to": None}


def test_claim_next_gives_two_moderators_different_items_and_skips_their_own(app, market):
    first, second = _flag(app, market), _flag(app, market, minute_body="call 512 555 0101")
    with transaction(app.session_factory) as session:
        # Ana's own conversation (she is its buyer): never offered to her.
        other_seller = user(session, "eve")
        own = conversation(session, market.staff, other_seller)
        msg = message(session, own, other_seller, "zelle me", 50)
        own_item = review.open_items_for_findings(session, [finding(session, msg, "payment", "zelle", 0.99).id], app.settings, NOW)[0]
    _, ana = _sign_in(app)
    _, bo = _sign_in(app, email="bo@peermetals.com")
    # The payment item ranks first, but it is about Ana: Bo gets it, Ana the two others.
    assert console.claim_next(app, bo, NOW) == own_item
    assert {console.claim_next(app, ana, NOW), console.claim_next(app, ana, NOW)} == {first, second}
    assert console.claim_next(app, ana, NOW) is None
    assert console.claim_next(app, bo, NOW) is None  # all claimed
    with pytest.raises(console.OwnAccount):
        console.resolve(app, ana, own_item, "confirmed", None, None, NOW)
    with pytest.raises(console.OwnAccount):
        console.item_page(app, ana, own_item, NOW, reveal=True)
    assert console.item_page(app, ana, own_item, NOW).about_self


@pytest.mark.postgres
def test_claim_next_at_the_same_moment_never_gives_one_item_twice(pg_url, tmp_path):
    from actors.app import BrokerDoorbell
    from usecases.app import App
    from usecases.settings import Settings

    app = App.from_settings(Settings.from_environment({"PEERGUARD_DATA_DIR": str(tmp_path), "DATABASE_URL": pg_url}), BrokerDoorbell())
    try:
        with transaction(app.session_factory) as session:
            market = Marketplace(session)
            for n in range(8):
                staff.add_account(session, f"mod{n}@peermetals.com", "moderator", NOW, password=PASSWORD)
        items = {_flag(app, market, minute_body=f"call 512 555 01{n:02d}") for n in range(6)}
        reviewers = [_sign_in(app, email=f"mod{n}@peermetals.com")[1] for n in range(8)]
        got: list[int | None] = []
        barrier = threading.Barrier(len(reviewers))

        def take(who):
            barrier.wait()
            got.append(console.claim_next(app, who, NOW))

        threads = [threading.Thread(target=take, args=(who,)) for who in reviewers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        claimed = [g for g in got if g is not None]
        assert sorted(claimed) == sorted(items)  # each item exactly once, two reviewers got nothing
    finally:
        app.dispose()


def test_reveal_is_audited_and_masking_hides_the_finding(app, market):
    item_id = _flag(app, market)
    _, ana = _sign_in(app)
    masked = console.item_page(app, ana, item_id, NOW)
    flagged = [m for m in masked.messages if m.flagged][0]
    assert "512 555" not in "".join(p.text for p in flagged.pieces) and _audit(app, "reveal") == []
    clear = console.item_page(app, ana, item_id, NOW, reveal=True, address="10.0.0.1")
    assert "512 555 0100" in "".join(p.text for p in [m for m in clear.messages if m.flagged][0].pieces)
    [entry] = _audit(app, "reveal")
    assert (entry.actor, entry.subject, entry.address) == ("ana@peermetals.com", f"item {item_id}", "10.0.0.1")


def test_resolve_and_overturn_are_audited_with_their_reasons(app, market):
    item_id = _flag(app, market)
    _, ana = _sign_in(app)
    _, bo = _sign_in(app, email="bo@peermetals.com")
    result = console.resolve(app, ana, item_id, "confirmed", "Phone number shared", "second time", NOW)
    assert result.strike_id is not None
    with pytest.raises(review.ReviewError):
        console.overturn(app, bo, result.strike_id, "  ", NOW)
    console.overturn(app, bo, result.strike_id, "customer service number", NOW)
    resolve_entry, overturn_entry = _audit(app, "resolve")[0], _audit(app, "overturn")[0]
    assert resolve_entry.note == "Phone number shared — second time" and resolve_entry.detail["outcome"] == "confirmed"
    assert (overturn_entry.actor, overturn_entry.note) == ("bo@peermetals.com", "customer service number")


def test_unclaim_releases_only_ones_own_claim(app, market):
    item_id = _flag(app, market)
    _, ana = _sign_in(app)
    _, bo = _sign_in(app, email="bo@peermetals.com")
    assert console.claim_next(app, ana, NOW) == item_id
    with pytest.raises(console.NotYourClaim):
        console.unclaim(app, bo, item_id, NOW)
    console.unclaim(app, ana, item_id, NOW)
    assert console.claim_next(app, bo, NOW) == item_id


def test_the_audit_log_refuses_updates_and_deletes(app, market):
    _sign_in(app)
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), transaction(app.session_factory) as session:
            session.execute(text(statement))
    assert len(_audit(app)) >= 1


def test_weak_passwords_and_unknown_roles_are_refused(app, market):
    with pytest.raises(staff.WeakPassword), transaction(app.session_factory) as session:
        staff.add_account(session, "cy@peermetals.com", "admin", NOW, password="short")
    with pytest.raises(staff.UnknownRole), transaction(app.session_factory) as session:
        staff.add_account(session, "cy@peermetals.com", "boss", NOW)


def test_last_seen_is_written_at_most_once_a_minute_and_idle_ends_at_most_that_early(app, market):
    token, _ = _sign_in(app)

    def last_seen():
        with app.session_factory() as session:
            return session.scalar(select(StaffSession.last_seen_at))

    assert staff.authenticate(app, token, NOW + timedelta(seconds=30)) is not None
    assert last_seen() == NOW  # not written for a request 30 s later
    assert staff.authenticate(app, token, NOW + timedelta(minutes=2)) is not None
    assert last_seen() == NOW + timedelta(minutes=2)
    assert staff.authenticate(app, token, NOW + timedelta(minutes=2, seconds=20)) is not None
    # Idle is counted from the last write: 30 min 10 s after it the session has ended, though the
    # last request was only 29 min 50 s before (at most a minute early, never late).
    assert staff.authenticate(app, token, NOW + timedelta(minutes=32, seconds=10)) is None
