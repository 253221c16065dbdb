"""The scanner opens review items in its own transaction, once per target."""

from datetime import timedelta

from sqlalchemy import select

from storage.db import transaction
from storage.models import ContactFinding, OutboxEmail, ReviewItem, ReviewSignal
from tests.review.factories import T0, Marketplace
from usecases.scanning import scan_batch


def test_scan_batch_opens_items_and_alerts_on_payment_diversion(app):
    with transaction(app.session_factory) as session:
        market = Marketplace(session)
        quiet = market.say(session, market.buyer, "Is the coin still available?")
        loud = market.say(session, market.seller, "Pay by bank transfer to IBAN DE89 3704 0044 0532 0130 00 and skip the fees")
        ids = [quiet.id, loud.id]
    counts = scan_batch(app, ids, T0 + timedelta(hours=1))
    assert counts["review_items"] >= 1
    with app.session_factory() as session:
        items = list(session.scalars(select(ReviewItem)))
        signals = session.scalars(select(ReviewSignal.finding_id)).all()
        findings = session.scalars(select(ContactFinding.id)).all()
        alerts = session.scalars(select(OutboxEmail.idempotency_key).where(OutboxEmail.notice == "flag-alert")).all()
    assert sorted(signals) == sorted(findings)
    item = next(i for i in items if i.message_id == loud.id)
    assert (item.kind, item.subject_user_id, item.high_severity) == ("payment", market.seller.id, True)
    assert alerts == [f"flag-alert:item:{item.id}"]
    # Scanning again finds nothing new and opens nothing.
    assert scan_batch(app, ids, T0 + timedelta(hours=2))["messages"] == 0
