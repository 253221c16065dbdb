"""Webhook actor: deliver what is due, on its own ``webhooks`` queue (a slow receiver never delays scanning or mail)."""

from __future__ import annotations

from datetime import UTC, datetime

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.app import current_app
from actors.metrics import count_stage
from usecases import webhooks


@dramatiq.actor(queue_name="webhooks", max_retries=0, time_limit=10 * 60 * 1000)
def deliver_webhooks() -> None:
    """Deliver every due webhook (idempotent: claims are leased, deliveries at least once)."""
    count_stage("webhooks", webhooks.deliver_due(current_app(), datetime.now(UTC)))
