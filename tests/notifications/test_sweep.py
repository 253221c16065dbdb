"""Notifications end to end in-process, on SQLite and PostgreSQL: ingest, reads, the sweep, the emails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from storage.mail import MemoryTransport
from storage.models import Notification, OutboxEmail, User
from usecases import notifications
from usecases.importing import ingest
from usecases.notices import deliver_outbox
from usecases.scanning import scan_pending

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PHONE, EMAIL = "415-555-0199", "stackerjoe@gmail.com"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def world(app, buyer_notify: str | None = None) -> None:
    buyer = {"type": "user", "id": "u-3", "name": "Bea", "email": "bea@example.com", "timezone": "Europe/Berlin"}
    if buyer_notify:
        buyer["notify"] = buyer_notify
    records = [buyer, {"type": "user", "id": "u-17", "name": "Greg", "email": "greg@example.com"},
               {"type": "conversation", "id": "c-9", "buyer": "u-3", "seller": "u-17", "subject": "2024 1 oz Gold Eagle"}]
    assert all(o.status == "created" for o in ingest(app, records, T0))


def send(app, message_id: str, sender: str, minutes: float, text: str = "hello", **extra) -> None:
    record = {"type": "message", "id": message_id, "conversation": "c-9", "sender": sender, "sent_at": z(at(minutes)),
              "text": text, **extra}
    [outcome] = ingest(app, [record], at(minutes))
    assert outcome.status == "created", outcome.error


def read(app, user: str, minutes: float) -> None:
    ingest(app, [{"type": "read", "conversation": "c-9", "user": user, "at": z(at(minutes))}], at(minutes))


def rows(app) -> dict[str, Notification]:
    with app.session_factory() as session:
        users = dict(session.execute(select(User.id, User.external_id)).all())
        return {users[n.recipient_id]: n for n in session.scalars(select(Notification))}


def tick(app, minutes: float) -> list:
    """What the scheduler does at ``minutes``: scan, sweep, deliver; returns the emails sent."""
    transport = MemoryTransport()
    scan_pending(app, at(minutes))
    notifications.sweep(app, at(minutes))
    deliver_outbox(app, at(minutes), transport=transport)
    return [message_from_bytes(m.as_bytes(), policy=policy.default) for m in transport.sent]


def test_one_row_per_recipient_and_conversation_counts_the_streak(app):
    world(app)
    send(app, "m-1", "u-3", 0)
    send(app, "m-2", "u-3", 1)
    seller = rows(app)["u-17"]
    assert seller.unread_count == 2 and seller.first_unread_at == at(0) and seller.latest_at == at(1)
    assert "u-3" not in rows(app)
    send(app, "m-3", "u-17", 3, "Yes, still available")  # replying reads: the seller's streak ends
    now = rows(app)
    assert now["u-17"].unread_count == 0 and now["u-17"].read_at == at(3) and now["u-17"].email_due_at is None
    assert now["u-3"].unread_count == 1
    read(app, "u-3", 4)
    assert rows(app)["u-3"].unread_count == 0


def test_a_receipt_short_of_the_newest_message_leaves_the_newer_ones_unread(app):
    world(app)
    for i in range(3):
        send(app, f"m-{i}", "u-3", i)
    read(app, "u-17", 1)
    seller = rows(app)["u-17"]
    assert seller.unread_count == 1 and seller.first_unread_at == at(2)


def test_a_message_older_than_the_read_receipt_is_not_unread(app):
    world(app)
    read(app, "u-17", 10)
    send(app, "m-old", "u-3", 5)
    assert "u-17" not in rows(app)


def test_new_message_email_after_the_delay_with_masked_text_threading_and_unsubscribe(app):
    world(app)
    send(app, "m-1", "u-3", 0, f"call me at {PHONE} or mail {EMAIL}",
         attachments=[])
    send(app, "m-2", "u-3", 1, "is the eagle still available?")
    assert tick(app, 1.5) == []  # not yet: two minutes after the first unread message
    [email] = tick(app, 2.5)
    assert email["X-PeerGuard-Notice"] == "new-message"
    assert email["Subject"] == "Bea sent you 2 messages about 2024 1 oz Gold Eagle"
    assert email["In-Reply-To"] == email["References"] == "<conversation-c-9@peermetals.com>"
    assert email["Message-ID"] != email["In-Reply-To"]
    assert email["List-Unsubscribe"].startswith("<https://peermetals.com/email/unsubscribe/new-messages/u-17.")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = email.get_body(("plain",)).get_content()
    assert "is the eagle still available?" in text and "2026-06-01 12:00 UTC" in text
    raw = email.as_string()
    for secret in (PHONE, "4155550199", EMAIL, "stackerjoe"):
        assert secret not in raw
    assert tick(app, 30) == []  # exactly once per streak


def test_no_email_when_the_recipient_reads_first(app):
    world(app)
    send(app, "m-1", "u-3", 0)
    read(app, "u-17", 1)
    assert tick(app, 5) == []


def test_a_message_not_yet_scanned_is_not_emailed(app):
    world(app)
    send(app, "m-1", "u-3", 0)
    notifications.sweep(app, at(3))  # before any scan
    with app.session_factory() as session:
        assert session.scalars(select(OutboxEmail)).all() == []
    assert rows(app)["u-17"].email_due_at == at(4)
    assert len(tick(app, 4)) == 1


def test_repeat_waits_an_hour_unless_the_recipient_read(app):
    world(app)
    send(app, "m-1", "u-3", 0)
    assert len(tick(app, 3)) == 1
    send(app, "m-2", "u-3", 10)
    assert tick(app, 20) == []
    [again] = tick(app, 63)
    assert "2 messages" in again["Subject"]
    read(app, "u-17", 70)
    send(app, "m-3", "u-3", 71)
    assert len(tick(app, 74)) == 1  # a new streak after reading: the delay only


def test_five_shown_and_n_more_with_attachment_names(app, tmp_path):
    from usecases.importing import store_upload

    world(app)
    upload = store_upload(app, open(__file__, "rb"))
    for i in range(7):
        extra = {"attachments": [{"sha256": upload.sha256, "name": "eagle.jpg"}]} if i == 0 else {}
        send(app, f"m-{i}", "u-3", i * 0.1, f"message number {i}", **extra)
    [email] = tick(app, 5)
    text = email.get_body(("plain",)).get_content()
    assert "message number 4" in text and "message number 5" not in text and "and 2 more messages" in text
    assert "eagle.jpg" in text and "eagle.jpg" in email.get_body(("html",)).get_content()


@pytest.mark.parametrize("choice", ["daily", "off"])
def test_daily_and_off_get_no_new_message_email_but_keep_the_dashboard(app, choice):
    world(app)
    assert notifications.set_notify(app, "u-17", choice)
    send(app, "m-1", "u-3", 0)
    # Greg is in UTC: a daily user never gets a new-message email, and a message first unread at
    # 12:00 waits for tomorrow's 08:00 digest (test_a_message_unread_only_after_eight_...).
    assert [m["X-PeerGuard-Notice"] for m in tick(app, 5)] == []
    assert rows(app)["u-17"].unread_count == 1 and rows(app)["u-17"].email_due_at is None


def test_daily_digest_at_eight_local_once_a_day(app):
    world(app, buyer_notify="daily")  # Bea is in Berlin: 08:00 CEST is 06:00 UTC
    send(app, "m-1", "u-17", 0, f"text me at {PHONE}")
    scan_pending(app, at(1))
    next_morning = datetime(2026, 6, 2, 5, 59, tzinfo=UTC)
    transport = MemoryTransport()
    assert notifications.sweep(app, next_morning).get("digest_emails") is None
    assert notifications.sweep(app, next_morning + timedelta(minutes=1))["digest_emails"] == 1
    assert notifications.sweep(app, next_morning + timedelta(hours=3)).get("digest_emails") is None
    deliver_outbox(app, next_morning + timedelta(hours=3), transport=transport)
    [email] = transport.sent
    assert email["X-PeerGuard-Notice"] == "new-message-digest" and email["To"].addresses[0].addr_spec == "bea@example.com"
    assert "2024 1 oz Gold Eagle" in email.as_string() and PHONE not in email.as_string()
    assert notifications.sweep(app, datetime(2026, 6, 3, 6, 0, tzinfo=UTC))["digest_emails"] == 1


def test_a_message_unread_only_after_eight_waits_for_the_next_mornings_digest(app):
    world(app, buyer_notify="daily")  # Bea is in Berlin: 08:00 CEST is 06:00 UTC; T0 is 12:00 UTC
    send(app, "m-1", "u-17", 0)
    scan_pending(app, at(1))
    assert notifications.sweep(app, at(5)).get("digest_emails") is None  # after 08:00 local, but unread since 14:00 local
    with app.session_factory() as session:
        assert session.scalar(select(User.last_digest_on).where(User.external_id == "u-3")) is not None
    assert notifications.sweep(app, datetime(2026, 6, 2, 6, 0, tzinfo=UTC))["digest_emails"] == 1


def test_mark_all_read_and_the_listing(app):
    world(app)
    send(app, "m-1", "u-3", 0)
    page, totals = notifications.list_for_user(app, "u-17", True, 10, None)
    assert totals == (1, 1) and [(r.conversation, r.sender, r.latest_message) for r in page] == [("c-9", "u-3", "m-1")]
    assert notifications.mark_all_read(app, "u-17", at(1)) == 1
    assert notifications.list_for_user(app, "u-17", True, 10, None)[0] == []
    assert notifications.mark_all_read(app, "u-nobody", at(1)) is None


def test_one_click_unsubscribe_switches_new_message_emails_off(app):
    from pipeline.notices import NEW_MESSAGES_TOPIC, unsubscribe_token

    world(app)
    secret = app.settings.mail.unsubscribe_secret
    assert not notifications.unsubscribe(app, unsubscribe_token(secret, "u-17"))  # a reminders token is not enough
    assert notifications.unsubscribe(app, unsubscribe_token(secret, "u-17", NEW_MESSAGES_TOPIC))
    with app.session_factory() as session:
        assert session.scalar(select(User.notify).where(User.external_id == "u-17")) == "off"


def _outbox_statuses(app) -> list:
    with app.session_factory() as session:
        return sorted(tuple(row) for row in session.execute(select(OutboxEmail.notice, OutboxEmail.status)))


@pytest.mark.parametrize("how", ["receipt", "reply", "mark all read"])
def test_a_queued_email_is_withdrawn_when_the_recipient_reads_before_it_is_sent(app, how):
    world(app)
    send(app, "m-1", "u-3", 0)
    scan_pending(app, at(0))
    assert notifications.sweep(app, at(3))["queued_emails"] == 1  # queued, not delivered yet
    if how == "receipt":
        read(app, "u-17", 4)
    elif how == "reply":
        send(app, "m-2", "u-17", 4, "yes it is")
    else:
        assert notifications.mark_all_read(app, "u-17", at(4)) == 1
    transport = MemoryTransport()
    deliver_outbox(app, at(5), transport=transport)
    assert [m["X-PeerGuard-Notice"] for m in transport.sent] == []
    assert _outbox_statuses(app) == [("new-message", "dead")]


def test_a_receipt_short_of_the_queued_streak_keeps_the_email(app):
    world(app)
    send(app, "m-1", "u-3", 0)
    send(app, "m-2", "u-3", 1)
    scan_pending(app, at(1))
    notifications.sweep(app, at(3))
    read(app, "u-17", 0.5)  # saw the first message only: the second is still unread
    assert _outbox_statuses(app) == [("new-message", "queued")]


def test_a_phone_number_split_over_messages_is_masked_in_every_part_of_the_email(app):
    world(app)
    parts = ["my cell is 415", "555", "0199 text me"]
    for i, part in enumerate(parts):
        send(app, f"m-{i}", "u-3", i * 0.2, part)
    [email] = tick(app, 2.5)
    text = email.get_body(("plain",)).get_content()
    assert text.count("[phone removed]") == 3, text
    # Every part as sent, decoded, and the subject: not the raw message, whose random MIME boundary
    # and Message-ID can hold "415" by chance (it did once).
    sent = [part.get_content() for part in email.walk() if not part.is_multipart()] + [str(email["Subject"])]
    assert len(sent) >= 3 and all("415" not in part and "0199" not in part for part in sent), sent
    assert "my cell is" in text
