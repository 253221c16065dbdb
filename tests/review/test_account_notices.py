"""Account notices to the user: policy-warning, account-restricted, strike-overturned, restriction-lifted.

Each is queued in the decision's transaction, once (outbox key), quotes only masked text and
links by the marketplace's ids.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.review import ReviewPolicy, restriction_ends_at
from storage.db import transaction
from storage.mail import transport_from_url
from storage.models import Conversation, Message, OutboxEmail, ReviewItem, Strike, User
from usecases import review
from usecases.app import App
from usecases.notices import deliver_outbox
from usecases.scanning import scan_batch
from usecases.settings import Settings

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
RAW = ["415-555-0123", "555-0123", "bob.smith@example.org", "212-555-0199", "555-0199", "venmo.me/goldbug", "@goldbug"]
BODIES = [
    "Call me at 415-555-0123 and we sort it out",
    "Email bob.smith@example.org for a better price",
    "Text me on 212-555-0199 tonight",
]


@pytest.fixture
def ctx(db_url: str, tmp_path: Path, request):
    name = "account-" + "".join(c if c.isalnum() else "-" for c in request.node.name)
    settings = Settings.from_environment({
        "PEERGUARD_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": db_url, "EMAIL_URL": f"memory://{name}",
        "PEERGUARD_STAFF_EMAIL": "safety@peermetals.com",
    })
    app = App.from_settings(settings)
    transport = transport_from_url(settings.email_url)
    transport.sent.clear()
    yield app, transport
    app.dispose()


def seed(app: App, bodies=BODIES) -> list[int]:
    """Seller u-17 writes the flagged messages to buyer u-3 in c-9; staff ana; returns the review items."""
    with transaction(app.session_factory) as s:
        for n in range(3):  # fillers: row ids differ from the marketplace ids
            s.add(User(external_id=f"filler-{n}", name="F", email=f"f{n}@example.com", timezone="UTC", away=False))
        s.add(User(external_id="staff:ana", name="Ana", email="ana@peermetals.com", timezone="UTC", away=False, role="staff"))
        buyer = User(external_id="u-3", name="Buyer", email="buyer@example.com", timezone="UTC", away=False)
        seller = User(external_id="u-17", name="Greg <b>", email="greg@example.com", timezone="UTC", away=False)
        s.add_all([buyer, seller])
        s.flush()
        conv = Conversation(external_id="c-9", buyer_id=buyer.id, seller_id=seller.id, subject="2024 1 oz Gold Eagle", order_ref="o-55")
        s.add(conv)
        s.flush()
        ids = []
        for n, body in enumerate(bodies):
            at = NOW + timedelta(minutes=n)
            m = Message(external_id=f"m-{100 + n}", conversation_id=conv.id, sender_id=seller.id, body=body, sent_at=at, recorded_at=at)
            s.add(m)
            s.flush()
            ids.append(m.id)
    scan_batch(app, ids, NOW)
    with app.session_factory() as s:
        return list(s.scalars(select(ReviewItem.id).where(ReviewItem.message_id.in_(ids)).order_by(ReviewItem.message_id)))


def confirm(app: App, item_id: int, at: datetime) -> review.Resolution:
    with transaction(app.session_factory) as s:
        return review.resolve(s, item_id, "confirmed", "ana@peermetals.com", at, app.settings)


def user_emails(app: App, transport) -> list:
    deliver_outbox(app, NOW + timedelta(days=400))
    return [m for m in transport.sent if m["To"].addresses[0].addr_spec == "greg@example.com"]


def _parts(message) -> list[str]:
    # Content-Type is left out: its random MIME boundary can hold any digits by chance ("415" did once).
    headers = "\n".join(f"{k}: {v}" for k, v in message.items() if k.lower() != "content-type")
    return [message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content(), headers]


def assert_nothing_raw(messages) -> None:
    for message in messages:
        for part in _parts(message):
            for raw in RAW:
                assert raw not in part, (message["X-PeerGuard-Notice"], raw)


def test_warning_then_restriction_quote_masked_messages_once(ctx):
    app, transport = ctx
    items = seed(app)
    assert len(items) == 3
    for n, item in enumerate(items):
        confirm(app, item, NOW + timedelta(hours=n))
    emails = user_emails(app, transport)
    assert [m["X-PeerGuard-Notice"] for m in emails] == ["policy-warning", "account-restricted"]
    warning, restricted = emails
    text, html, _ = _parts(warning)
    assert "No contact details in messages" in warning["Subject"] and '"No contact details in messages"' in text
    assert "https://peermetals.com/help/messaging-policy" in text and "https://peermetals.com/help/messaging-policy" in html
    assert "Call me at [phone removed] and we sort it out" in text and '"2024 1 oz Gold Eagle"' in text
    assert "Greg &lt;b&gt;" in html
    text, html, _ = _parts(restricted)
    assert "3 messaging-policy strikes in the last 90 days" in text
    assert "[phone removed]" in text and "Email [email removed] for a better price" in text
    assert "restriction ends\non 2027-02-18 09:00 UTC" in text  # the first strike ages out 90 days after it was given
    assert "https://peermetals.com/help/messaging-policy#appeals" in text and "&ldquo;2024 1 oz Gold Eagle&rdquo;" in html
    assert_nothing_raw(emails)
    # Deciding nothing new sends nothing new; the outbox holds one row per notice and decision.
    with app.session_factory() as s:
        keys = sorted(s.scalars(select(OutboxEmail.idempotency_key).where(OutboxEmail.recipient_address == "greg@example.com")))
        strikes = list(s.scalars(select(Strike.id).order_by(Strike.id)))
    assert keys == [f"account-restricted:strike:{strikes[2]}", f"policy-warning:strike:{strikes[0]}"]


def test_overturn_below_the_threshold_lifts_and_tells_the_user_once(ctx):
    app, transport = ctx
    items = seed(app)
    for n, item in enumerate(items):
        confirm(app, item, NOW + timedelta(hours=n))
    with app.session_factory() as s:
        first = s.scalars(select(Strike.id).order_by(Strike.id)).first()
    with transaction(app.session_factory) as s:
        review.overturn_strike(s, first, "ana@peermetals.com", NOW + timedelta(days=1), app.settings)
    with pytest.raises(review.AlreadyResolved), transaction(app.session_factory) as s:
        review.overturn_strike(s, first, "ana@peermetals.com", NOW + timedelta(days=2), app.settings)
    emails = user_emails(app, transport)
    names = [m["X-PeerGuard-Notice"] for m in emails]
    assert names == ["policy-warning", "account-restricted", "restriction-lifted", "strike-overturned"]
    lifted, overturned = _parts(emails[2])[0], _parts(emails[3])[0]
    assert "overturned on review" in lifted and "no longer restricted" in lifted and "2 active strikes" in lifted
    assert "2026-11-20 09:00 UTC" in overturned and "Call me at [phone removed]" in overturned
    assert "no longer restricted" in overturned
    assert_nothing_raw(emails)
    # Lifting again by the expiry sweep finds nothing restricted: no second notice.
    assert review.housekeeping(app, NOW + timedelta(days=200)) == {}
    assert len(user_emails(app, transport)) == 4


def test_expiry_lifts_and_tells_the_user_once(ctx):
    app, transport = ctx
    for n, item in enumerate(seed(app)):
        confirm(app, item, NOW + timedelta(hours=n))
    assert review.housekeeping(app, NOW + timedelta(days=89)) == {}
    assert review.housekeeping(app, NOW + timedelta(days=91)) == {"restrictions_lifted": 1}
    assert review.housekeeping(app, NOW + timedelta(days=91)) == {}
    emails = user_emails(app, transport)
    assert [m["X-PeerGuard-Notice"] for m in emails] == ["policy-warning", "account-restricted", "restriction-lifted"]
    assert "older than 90 days" in _parts(emails[2])[0]
    assert_nothing_raw(emails)


def test_an_unscanned_message_is_not_quoted(ctx):
    app, transport = ctx
    [item, *_] = seed(app)
    with transaction(app.session_factory) as s:  # as if the masked copy were not written yet
        message_id = s.get(ReviewItem, item).message_id
        s.execute(Message.__table__.update().where(Message.id == message_id).values(scanned_at=None, masked_body=None))
    confirm(app, item, NOW)
    [warning] = user_emails(app, transport)
    text = _parts(warning)[0]
    assert "not quoted here" in text and "Call me" not in text
    assert_nothing_raw([warning])


def test_restriction_end_rule():
    policy = ReviewPolicy()
    t = [NOW + timedelta(days=d) for d in (0, 10, 20, 30)]
    assert restriction_ends_at(t[:2], policy) is None
    assert restriction_ends_at(t[:3], policy) == t[0] + timedelta(days=90)
    assert restriction_ends_at(list(reversed(t)), policy) == t[1] + timedelta(days=90)
