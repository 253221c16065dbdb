"""Review actors: housekeeping of the trust-and-safety queue (restrictions whose strikes aged out)."""

from __future__ import annotations

from datetime import UTC, datetime

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.app import current_app
from actors.metrics import count_stage
from usecases import review


@dramatiq.actor(queue_name="sweeps", max_retries=0)
def review_sweep() -> None:
    """Idempotent; the scheduler rings it every minute."""
    count_stage("review", review.housekeeping(current_app(), datetime.now(UTC)))
