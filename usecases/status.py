"""The operational picture: backlogs and their ages, as ``peerguard status`` and the metrics show it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from storage import status as store

if TYPE_CHECKING:  # `peerguard status` reads through a bare driver and never imports the App's SQLAlchemy
    from storage.direct import Reader
    from usecases.app import App

OUTBOX_STATES = ("queued", "sending", "sent", "failed", "dead")


@dataclass(frozen=True)
class Gauge:
    """One figure: a metric name, its labels, its value, and the line ``peerguard status`` prints."""

    name: str
    labels: dict[str, str]
    value: float
    help: str


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


def gauges(app: App, now: datetime) -> list[Gauge]:
    """Every backlog gauge as of ``now``."""
    from storage.db import SessionReader

    with app.session_factory() as session:
        return read_gauges(SessionReader(session), now)


def read_gauges(reader: Reader, now: datetime) -> list[Gauge]:
    """Every backlog gauge as of ``now``, read through ``reader``."""
    snap = store.snapshot(reader, now)
    figures = [
        Gauge("peerguard_unscanned_messages", {}, snap.unscanned.count, "Messages recorded but not scanned yet"),
        Gauge("peerguard_unscanned_oldest_age_seconds", {}, _age(now, snap.unscanned.oldest),
              "Age of the oldest unscanned message"),
        Gauge("peerguard_outbox_oldest_waiting_age_seconds", {}, _age(now, snap.outbox_oldest_waiting),
              "How long the most overdue queued/failed/sending email has been due"),
        Gauge("peerguard_review_pending_items", {}, snap.review_pending.count, "Review items waiting for a decision"),
        Gauge("peerguard_review_oldest_pending_age_seconds", {}, _age(now, snap.review_pending.oldest),
              "Age of the oldest pending review item"),
        Gauge("peerguard_response_sweep_lag_seconds", {}, _age(now, snap.deadlines_due.oldest),
              "How long the most overdue response-deadline stage has waited for the sweep"),
        Gauge("peerguard_response_deadlines_due", {}, snap.deadlines_due.count, "Deadline stages due and not yet swept"),
        Gauge("peerguard_webhook_pending_deliveries", {}, snap.webhooks_pending.count, "Webhook deliveries not yet made"),
        Gauge("peerguard_webhook_oldest_pending_age_seconds", {}, _age(now, snap.webhooks_pending.oldest),
              "Age of the oldest pending webhook delivery"),
    ]
    figures += [Gauge("peerguard_outbox_emails", {"state": state}, snap.outbox.get(state, 0), "Outbox emails by state")
                for state in OUTBOX_STATES]
    return figures


def scan_latencies(app: App, message_ids: Sequence[int], scanned_at: datetime, committed: datetime) -> list[float]:
    """Seconds from commit to scan (findings visible) for the messages a batch just scanned.

    ``scanned_at`` is the scan time the batch stored (its ``now``) and ``committed`` when its
    transaction committed: only the messages that batch scanned count — another worker may have
    scanned some of the ids first, and counted them — each up to ``committed``, not up to the
    batch's start.
    """
    from storage.db import SessionReader

    with app.session_factory() as session:
        return [max(0.0, (committed - recorded).total_seconds())
                for recorded, scanned in store.scan_times(SessionReader(session), list(message_ids)) if scanned == scanned_at]
