"""Review-queue housekeeping: lift restrictions whose strikes have aged out of the window."""

from __future__ import annotations

from datetime import UTC, datetime

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.context import AppContext, app_context
from actors.metrics import STAGE_ITEMS
from storage.db import transaction
from storage.review import expire_restrictions


@dramatiq.actor(queue_name="sweeps", max_retries=0)
def review_sweep() -> None:
    """Idempotent; the scheduler rings it every minute."""
    review_housekeeping(app_context(), datetime.now(UTC))


def review_housekeeping(context: AppContext, now: datetime) -> dict[str, int]:
    """One pass as of ``now`` (also the ``review`` stage of ``peerguard run --once``)."""
    with transaction(context.session_factory) as session:
        lifted = expire_restrictions(session, context.settings, now)
    if lifted:
        STAGE_ITEMS.labels("review", "restrictions_lifted").inc(len(lifted))
    return {"restrictions_lifted": len(lifted)} if lifted else {}
