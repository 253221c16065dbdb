"""Response actors: the sweep that syncs deadlines and queues due notices, then rings the mail actor."""

from __future__ import annotations

from datetime import UTC, datetime

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.app import current_app
from actors.metrics import count_stage
from usecases import responses


@dramatiq.actor(queue_name="sweeps", max_retries=0, time_limit=10 * 60 * 1000)
def response_sweep() -> None:
    """Sync deadlines and record due stages as of now; ring the mail actor when emails were queued."""
    app = current_app()
    counts = responses.sweep(app, datetime.now(UTC))
    count_stage("responses", counts)
    if counts.get("queued_emails"):
        app.doorbell.deliver_mail()
