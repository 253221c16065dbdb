"""Notification actors: the sweep that queues due new-message emails and digests, then rings the mail actor."""

from __future__ import annotations

from datetime import UTC, datetime

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.app import current_app
from actors.metrics import count_stage
from usecases import notifications


@dramatiq.actor(queue_name="sweeps", max_retries=0, time_limit=10 * 60 * 1000)
def notification_sweep() -> None:
    """Queue every new-message email and daily digest due now; ring the mail actor when emails were queued."""
    app = current_app()
    counts = notifications.sweep(app, datetime.now(UTC))
    count_stage("notifications", counts)
    if counts.get("queued_emails") or counts.get("digest_emails"):
        app.doorbell.deliver_mail()
