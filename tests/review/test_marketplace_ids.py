"""Staff see the marketplace's ids (c-…, m-…, u-…), never PeerGuard's row ids, in listings and emails."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from pipeline.review import ReviewPolicy
from storage.db import transaction
from storage.models import Conversation, Message, OutboxEmail, ReviewHistory, User
from usecases import review
from usecases.importing import InterchangeImporter
from usecases.scanning import scan_pending

SENT = datetime.now(timezone.utc) - timedelta(hours=1)
# Imported in this order, the rows get ids 1, 2, 3 (users) and 1, 2 (messages): none of them
# equals the marketplace's number, so a row id leaking into the output is caught.
LINES = [
    {"type": "user", "id": "u-17", "name": "Sam Seller", "email": "sam@example.com"},
    {"type": "user", "id": "u-3", "name": "Bea Buyer", "email": "bea@example.com"},
    {"type": "user", "id": "u-40", "name": "Ana", "email": "ana@peermetals.com", "role": "staff"},
    {"type": "conversation", "id": "c-9", "buyer": "u-3", "seller": "u-17", "subject": "1 oz Gold Eagle", "order": "o-55"},
    {"type": "message", "id": "m-99", "conversation": "c-9", "sender": "u-3", "sent_at": SENT.isoformat(),
     "text": "Is the coin still available?"},
    {"type": "message", "id": "m-100", "conversation": "c-9", "sender": "u-17",
     "sent_at": (SENT + timedelta(minutes=1)).isoformat(), "text": "Yes, text me on 512 555 0100 and we skip the fees"},
]


@pytest.fixture
def imported(app, tmp_path) -> dict[str, int]:
    """The marketplace above, imported and scanned; returns the row ids by marketplace id."""
    importer = InterchangeImporter(app.session_factory, app.blobs, tmp_path)
    assert {o.status for o in importer.import_lines([json.dumps(line).encode() for line in LINES])} == {"created"}
    scan_pending(app, SENT + timedelta(minutes=5))
    with app.session_factory() as session:
        rows = dict(session.execute(select(User.external_id, User.id)).all())
        rows |= dict(session.execute(select(Conversation.external_id, Conversation.id)).all())
        rows |= dict(session.execute(select(Message.external_id, Message.id)).all())
    assert (rows["u-17"], rows["c-9"], rows["m-100"]) == (1, 1, 2)
    return rows


def _only_item(cli) -> dict:
    listed = cli("review", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [entry] = [json.loads(line) for line in listed.stdout.splitlines()]
    return entry


def test_list_and_show_name_the_marketplace_ids(cli, imported):
    entry = _only_item(cli)
    assert (entry["conversation_id"], entry["message_id"], entry["sender_id"]) == ("c-9", "m-100", "u-17")
    table = cli("review", "list").stdout
    assert all(token in table for token in ("c-9", "m-100", "u-17"))

    shown = cli("review", "show", str(entry["id"]), "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["conversation"] == {"id": "c-9", "subject": "1 oz Gold Eagle", "order_id": "o-55"}
    assert (detail["item"]["conversation_id"], detail["item"]["message_id"], detail["item"]["sender_id"]) == ("c-9", "m-100", "u-17")
    assert [(m["id"], m["sender_id"], m["flagged"]) for m in detail["messages"]] == [("m-99", "u-3", False), ("m-100", "u-17", True)]

    text = cli("review", "show", str(entry["id"])).stdout
    for token in ("c-9", "m-100", "m-99", "u-17", "u-3", "1 oz Gold Eagle", "o-55"):
        assert token in text
    assert "conversation 1 " not in text.lower() and "(1)" not in text


def test_staff_alerts_links_and_history_name_the_marketplace_user(app, imported):
    # Restrict at the first strike so one decision sends the repeat-offender alert.
    app.settings = app.settings.with_(review=ReviewPolicy(warn_at=1, restrict_at=1, suspend_at=2))
    with app.session_factory() as session:
        [entry] = review.list_queue(session, SENT + timedelta(minutes=10))
    with transaction(app.session_factory) as session:
        result = review.resolve(session, entry.id, "confirmed", "ana@peermetals.com", SENT + timedelta(minutes=10), app.settings)
    assert "user_restricted" in result.steps
    with app.session_factory() as session:
        [alert] = session.scalars(select(OutboxEmail).where(OutboxEmail.notice == "repeat-offender")).all()
        notes = session.scalars(select(ReviewHistory.note).where(ReviewHistory.action == "user_restricted")).all()
    assert alert.context["user_external_id"] == "u-17" and "user_id" not in alert.context
    assert alert.context["review_url"].endswith("/staff/users/u-17")
    assert alert.context["user_email"] == "sam@example.com"
    assert notes == ["user u-17 at 1 active strikes"]
