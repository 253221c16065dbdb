"""The demo's staff walk-through: the decisions a reviewer would make, through the review use cases.

``peerguard demo`` runs it after the pipeline so the sample outbox holds the account notices
too: the most flagged sender's incidents are confirmed one by one (the first strike warns, the
restriction threshold restricts), then the last strike is overturned on appeal (which lifts
the restriction). Nothing here is a rule: ``usecases.review`` decides what each step sends.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from storage.db import transaction
from usecases import review
from usecases.app import App

DEMO_REVIEWER = "demo-reviewer@peermetals.com"


def staff_walkthrough(app: App, now: datetime) -> dict[str, int]:
    """Confirm the most flagged sender's incidents up to the restriction threshold, then overturn the last strike."""
    counts: Counter[str] = Counter()
    with transaction(app.session_factory) as session:
        review.add_staff(session, DEMO_REVIEWER, "Demo reviewer", now)
        pending = review.list_queue(session, now, "pending", limit=1000)
        senders = Counter(entry.sender_id for entry in pending)
        if not senders:
            return {}
        sender, _ = senders.most_common(1)[0]
        items = [entry.id for entry in pending if entry.sender_id == sender][: app.settings.review.restrict_at]
        last = None
        for item_id in items:
            last = review.resolve(session, item_id, "confirmed", DEMO_REVIEWER, now, app.settings, note="demo: confirmed")
            counts["confirmed"] += 1
            counts["strikes"] += last.strike_id is not None
        if last is not None and last.strike_id is not None:
            review.overturn_strike(session, last.strike_id, DEMO_REVIEWER, now, app.settings, note="demo: overturned on appeal")
            counts["overturned"] += 1
    return dict(counts)
