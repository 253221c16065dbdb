"""Emails name conversations and users by the marketplace's ids, and their unsubscribe tokens work."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.notices import unsubscribe_token, verify_unsubscribe_token
from storage.db import transaction
from storage.mail import transport_from_url
from storage.models import Conversation, EmailPreference, Message, User
from tests.responses.factories import hours, sweep_and_deliver
from usecases.app import App
from usecases.notices import unsubscribe
from usecases.settings import Settings

SECRET = "test-secret"


@pytest.fixture
def ctx(db_url: str, tmp_path: Path, request):
    name = "external-ids-" + "".join(c if c.isalnum() else "-" for c in request.node.name)
    settings = Settings.from_environment({
        "PEERGUARD_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": db_url,
        "EMAIL_URL": f"memory://{name}", "PEERGUARD_SECRET_KEY": SECRET,
    })
    app = App.from_settings(settings)
    transport = transport_from_url(settings.email_url)
    transport.sent.clear()
    yield app, transport
    app.dispose()


def _user(session, external_id: str, email: str) -> User:
    row = User(external_id=external_id, name=f"User {external_id}", email=email, timezone="UTC", away=False)
    session.add(row)
    session.flush()
    return row


def seed(app: App) -> tuple[int, int]:
    """Seller u-17 owes buyer u-3 a reply in c-9; fillers make every row id differ from its external id."""
    with transaction(app.session_factory) as s:
        fillers = [_user(s, f"filler-{n}", f"filler{n}@example.com") for n in range(4)]
        for n in range(5):
            s.add(Conversation(external_id=f"filler-c-{n}", buyer_id=fillers[0].id, seller_id=fillers[1].id))
        buyer, seller = _user(s, "u-3", "buyer@example.com"), _user(s, "u-17", "seller@example.com")
        conv = Conversation(external_id="c-9", buyer_id=buyer.id, seller_id=seller.id)
        s.add(conv)
        s.flush()
        s.add(Message(external_id="m-100", conversation_id=conv.id, sender_id=buyer.id, body="Still available?",
                      sent_at=hours(0), recorded_at=hours(0)))
        assert (seller.id, conv.id) != (17, 9)
        return seller.id, conv.id


def test_no_internal_id_in_any_response_email(ctx):
    app, transport = ctx
    seller_id, conversation_id = seed(app)
    for at in (1, 20, 24):
        sweep_and_deliver(app, hours(at))
    assert [m["X-PeerGuard-Notice"] for m in transport.sent] == ["response-reminder", "response-final-warning", "response-breach"]
    for message in transport.sent:
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        # Content-Type is left out: its random MIME boundary can hold any digits by chance ("415" did once).
        headers = "\n".join(f"{k}: {v}" for k, v in message.items() if k.lower() != "content-type")
        for part in (text, html):
            assert "https://peermetals.com/messages/c-9" in part
        for part in (text, html, headers):
            assert f"/messages/{conversation_id}" not in part
            assert f"/unsubscribe/{seller_id}" not in part and f"unsubscribe-{seller_id}" not in part
        if message["X-PeerGuard-Notice"] != "response-breach":
            token = unsubscribe_token(SECRET, "u-17")
            assert f"<https://peermetals.com/email/unsubscribe/{token}>" in message["List-Unsubscribe"]
            assert "mailto:" not in message["List-Unsubscribe"]
            assert f"/email/unsubscribe/{token}" in text and verify_unsubscribe_token(SECRET, token) == "u-17"


def _opted_out(app: App) -> dict[str, bool]:
    with app.session_factory() as s:
        rows = s.execute(select(User.external_id, EmailPreference.response_reminders_opted_out)
                         .join(EmailPreference, EmailPreference.user_id == User.id))
        return dict(rows.all())


def test_unsubscribe_with_a_valid_token_opts_the_seller_out(ctx):
    app, transport = ctx
    seed(app)
    assert unsubscribe(app, unsubscribe_token(SECRET, "u-17"), hours(1))
    assert _opted_out(app) == {"u-17": True}
    for at in (1, 20, 24):
        sweep_and_deliver(app, hours(at))
    assert [m["X-PeerGuard-Notice"] for m in transport.sent] == ["response-breach"]


@pytest.mark.parametrize("token", [
    unsubscribe_token("another key", "u-17"),           # forged: signed with the wrong key
    unsubscribe_token(SECRET, "u-17")[:-2],              # garbled MAC
    "u-17." + unsubscribe_token(SECRET, "u-3").rsplit(".", 1)[1],  # another user's MAC
    "u-17", "", "u-17.%%%.", "../u-17",
    unsubscribe_token(SECRET, "u-404"),                  # genuine, but no such user
])
def test_unsubscribe_with_a_bad_token_changes_nothing(ctx, token):
    app, _ = ctx
    seed(app)
    assert unsubscribe(app, token, hours(1)) is False
    assert _opted_out(app) == {}
