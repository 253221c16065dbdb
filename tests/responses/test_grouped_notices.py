"""One response email per seller and stage: it names every buyer, listing and order, quotes only masked text,
and a rerun of the same sweep sends nothing more."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import transaction
from storage.mail import transport_from_url
from storage.models import Conversation, Message, OutboxEmail, User
from tests.responses.factories import hours, sweep_and_deliver
from usecases.app import App
from usecases.scanning import scan_batch
from usecases.settings import Settings

RAW_DETAILS = ["415-555-0123", "555-0123", "bob.smith@example.org", "(212) 555-0199", "555-0199", "gold.bug@protonmail.com"]
BUYERS = [  # name, listing, order, message text (each with a raw contact detail)
    ("Ada Buyer", "2024 1 oz Gold Eagle", "o-55", "Is it still available? Call me at 415-555-0123"),
    ("Ben Buyer", "10 oz Silver Bar", None, "Can you ship today? Email bob.smith@example.org"),
    ("Cy <b>Buyer</b>", "1 oz Krugerrand", "o-77", "What is your best price? (212) 555-0199"),
    ("Di Buyer", "Maple Leaf tube", "o-78", "Please write to gold.bug@protonmail.com about the tube"),
    ("Ed Buyer", "Junk silver $10 face", None, "Still there? ring 415-555-0123 tonight"),  # left unscanned
]


@pytest.fixture
def ctx(db_url: str, tmp_path: Path, request):
    name = "grouped-" + "".join(c if c.isalnum() else "-" for c in request.node.name)
    settings = Settings.from_environment({
        "PEERGUARD_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": db_url, "EMAIL_URL": f"memory://{name}",
    })
    app = App.from_settings(settings)
    transport = transport_from_url(settings.email_url)
    transport.sent.clear()
    yield app, transport
    app.dispose()


def seed(app: App) -> list[int]:
    """Seller u-9 owes five buyers a reply; returns the message row ids, in BUYERS order."""
    with transaction(app.session_factory) as s:
        seller = User(external_id="u-9", name="Seller Nine", email="seller9@example.com", timezone="UTC", away=False)
        s.add(seller)
        s.flush()
        ids = []
        for n, (buyer_name, listing, order, text) in enumerate(BUYERS):
            buyer = User(external_id=f"u-10{n}", name=buyer_name, email=f"b{n}@example.com", timezone="UTC", away=False)
            s.add(buyer)
            s.flush()
            conv = Conversation(external_id=f"c-90{n}", buyer_id=buyer.id, seller_id=seller.id, subject=listing, order_ref=order)
            s.add(conv)
            s.flush()
            message = Message(external_id=f"m-90{n}", conversation_id=conv.id, sender_id=buyer.id, body=text,
                              sent_at=hours(0), recorded_at=hours(0))
            s.add(message)
            s.flush()
            ids.append(message.id)
        return ids


def _parts(message) -> tuple[str, str, str]:
    # Content-Type is left out: its random MIME boundary can hold any digits by chance ("415" did once).
    headers = "\n".join(f"{k}: {v}" for k, v in message.items() if k.lower() != "content-type")
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content(), headers


def test_five_due_conversations_give_one_email_naming_each_and_a_rerun_sends_nothing(ctx):
    app, transport = ctx
    ids = seed(app)
    scan_batch(app, ids[:4], hours(0))  # the fifth message is not scanned yet
    counts = sweep_and_deliver(app, hours(24))
    assert counts["response-breach:send"] == 5 and counts["queued_emails"] == 1
    [email] = transport.sent
    assert email["X-PeerGuard-Notice"] == "response-breach" and email["To"].addresses[0].addr_spec == "seller9@example.com"
    assert email["Subject"] == "5 buyer enquiries went unanswered for 24 hours"
    text, html, headers = _parts(email)
    for n, (buyer_name, listing, order, _) in enumerate(BUYERS):
        assert buyer_name in text and listing in text and f"https://peermetals.com/messages/c-90{n}" in text
        assert listing in html and f"https://peermetals.com/messages/c-90{n}" in html
        if order:
            assert f"order {order}" in text and f"order {order}" in html
    assert "Cy &lt;b&gt;Buyer&lt;/b&gt;" in html and "<b>Buyer" not in html
    assert text.count("[phone removed]") == 2 and text.count("[email removed]") == 2
    assert "Is it still available? Call me at [phone removed]" in text
    assert "ring" not in text and "tonight" not in text  # unscanned: not quoted at all
    for part in (text, html, headers):
        for raw in RAW_DETAILS:
            assert raw not in part

    # The same sweep again, and later ones: nothing more is queued or sent.
    for at in (24, 24, 25, 48):
        again = sweep_and_deliver(app, hours(at))
        assert "queued_emails" not in again and "mail_sent" not in again
    assert len(transport.sent) == 1
    with app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEmail)) == 1


def test_each_stage_is_one_email_per_seller(ctx):
    app, transport = ctx
    ids = seed(app)
    scan_batch(app, ids, hours(0))
    for at in (1, 20, 24):
        sweep_and_deliver(app, hours(at))
    assert [m["X-PeerGuard-Notice"] for m in transport.sent] == ["response-reminder", "response-final-warning", "response-breach"]
    assert transport.sent[0]["Subject"] == "5 buyers are waiting for your reply"
    assert transport.sent[1]["Subject"] == "Final reminder: 4 hours left to answer 5 buyers"
    for message in transport.sent:
        text, html, headers = _parts(message)
        assert all(name in text for name, *_ in BUYERS if "<" not in name)
        for part in (text, html, headers):
            for raw in RAW_DETAILS:
                assert raw not in part


def test_a_single_conversation_names_buyer_and_listing_in_the_subject(ctx):
    app, transport = ctx
    ids = seed(app)
    with transaction(app.session_factory) as s:  # four buyers got their answer at once
        seller = s.scalar(select(User).where(User.external_id == "u-9"))
        for conv in s.scalars(select(Conversation).where(Conversation.external_id != "c-900")):
            s.add(Message(external_id=f"r-{conv.external_id}", conversation_id=conv.id, sender_id=seller.id,
                          body="Yes", sent_at=hours(0.1), recorded_at=hours(0.1)))
    scan_batch(app, ids, hours(0))
    sweep_and_deliver(app, hours(1))
    [email] = transport.sent
    assert email["Subject"] == 'Ada Buyer is waiting for your reply about "2024 1 oz Gold Eagle"'
    text, _, _ = _parts(email)
    assert "order o-55" in text and "Call me at [phone removed]" in text and "415-555-0123" not in text


def test_a_seller_due_across_batches_still_gets_one_email_per_sweep(ctx):
    from usecases.responses import sweep_due, sync_new_messages

    app, transport = ctx
    ids = seed(app)
    scan_batch(app, ids, hours(0))
    sync_new_messages(app, hours(0))
    outcome = sweep_due(app, hours(24), batch_size=2)  # five due deadlines, batches of two
    assert outcome.counts["response-breach:send"] == 5 and outcome.counts["queued_emails"] == 1
    sweep_and_deliver(app, hours(24))
    [email] = transport.sent
    assert email["Subject"] == "5 buyer enquiries went unanswered for 24 hours"


def test_an_unsent_grouped_reminder_is_replanned_without_the_conversation_the_seller_answered(ctx):
    from usecases.responses import sweep

    app, transport = ctx
    ids = seed(app)
    scan_batch(app, ids, hours(0))
    assert sweep(app, hours(1))["queued_emails"] == 1  # one reminder for five, not sent yet
    with transaction(app.session_factory) as s:
        seller = s.scalar(select(User).where(User.external_id == "u-9"))
        conv = s.scalar(select(Conversation).where(Conversation.external_id == "c-901"))
        s.add(Message(external_id="r-901", conversation_id=conv.id, sender_id=seller.id, body="Shipped", sent_at=hours(1.05),
                      recorded_at=hours(1.05)))
    sweep_and_deliver(app, hours(1.1))
    [email] = transport.sent
    assert email["Subject"] == "4 buyers are waiting for your reply"
    text, html, _ = _parts(email)
    assert "Ben Buyer" not in text and "c-901" not in text and "c-901" not in html
    assert all(f"https://peermetals.com/messages/c-90{n}" in text for n in (0, 2, 3, 4))
    with app.session_factory() as s:
        statuses = sorted(s.scalars(select(OutboxEmail.status)))
    assert statuses == ["dead", "sent"]
    sweep_and_deliver(app, hours(1.2))  # a rerun re-plans nothing
    assert len(transport.sent) == 1


def test_a_grouped_reminder_answered_everywhere_before_it_is_sent_is_withdrawn(ctx):
    from usecases.responses import sweep

    app, transport = ctx
    ids = seed(app)
    scan_batch(app, ids, hours(0))
    sweep(app, hours(1))
    with transaction(app.session_factory) as s:
        seller = s.scalar(select(User).where(User.external_id == "u-9"))
        for conv in s.scalars(select(Conversation)):
            s.add(Message(external_id=f"r-{conv.external_id}", conversation_id=conv.id, sender_id=seller.id, body="Yes",
                          sent_at=hours(1.05), recorded_at=hours(1.05)))
    sweep_and_deliver(app, hours(1.1))
    assert transport.sent == []
    with app.session_factory() as s:
        assert set(s.scalars(select(OutboxEmail.status))) == {"dead"}


def test_a_phone_number_split_over_the_waiting_messages_is_masked_in_the_quote(ctx):
    app, transport = ctx
    with transaction(app.session_factory) as s:
        seller = User(external_id="u-9", name="Seller Nine", email="seller9@example.com", timezone="UTC", away=False)
        buyer = User(external_id="u-100", name="Ada Buyer", email="ada@example.com", timezone="UTC", away=False)
        s.add_all([seller, buyer])
        s.flush()
        conv = Conversation(external_id="c-900", buyer_id=buyer.id, seller_id=seller.id, subject="Gold Eagle")
        s.add(conv)
        s.flush()
        first = Message(external_id="m-1", conversation_id=conv.id, sender_id=buyer.id, body="call me on 415 555",
                        sent_at=hours(0), recorded_at=hours(0))
        s.add(first)
        s.flush()
        first_id = first.id
    scan_batch(app, [first_id], hours(0))  # alone, "415 555" is no phone number: scanned unmasked
    with transaction(app.session_factory) as s:
        s.add(Message(external_id="m-2", conversation_id=conv.id, sender_id=buyer.id, body="0199 thanks",
                      sent_at=hours(0.01), recorded_at=hours(0.01)))
    from usecases.scanning import scan_pending

    scan_pending(app, hours(0.02))
    with app.session_factory() as s:
        assert s.scalar(select(Message.masked_body).where(Message.id == first_id)) == "call me on [phone removed]"
    sweep_and_deliver(app, hours(1))
    [email] = transport.sent
    text, html, headers = _parts(email)
    assert "call me on [phone removed]" in text
    for part in (text, html, headers):
        assert "415" not in part and "555" not in part
