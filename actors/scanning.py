"""Scanning actors: a batch of new messages, and the catch-up sweep that re-rings lost ones."""

from __future__ import annotations

from datetime import UTC, datetime

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.app import current_app, forget_scan_rings
from actors.metrics import COMMIT_TO_FINDING, count_stage
from usecases import scanning
from usecases.status import scan_latencies


@dramatiq.actor(queue_name="scanning", max_retries=5, time_limit=5 * 60 * 1000)
def scan_messages(message_ids: list[int]) -> None:
    """Scan these messages (ids only; already-scanned ones are skipped)."""
    app = current_app()
    # Out of the queue now: if this process dies mid-scan the catch-up sweep must ring again.
    forget_scan_rings(message_ids)
    started = datetime.now(UTC)
    count_stage("scan", scanning.scan_batch(app, message_ids, started))
    # From each message's commit to this batch's commit (its findings visible), for the messages it scanned.
    for seconds in scan_latencies(app, message_ids, scanned_at=started, committed=datetime.now(UTC)):
        COMMIT_TO_FINDING.observe(seconds)


@dramatiq.actor(queue_name="sweeps", max_retries=0)
def catch_up_sweep() -> None:
    """Re-ring the doorbell for messages the broker lost: unscanned, recorded a while ago."""
    scanning.ring_for_lost(current_app(), datetime.now(UTC))
