"""Attachment scanning actor: its own queue and time limit, so slow OCR never delays message scanning.

Each file is read in a child process with its own time limit and memory cap (see
``usecases.attachment_scanning``); the actor's limit bounds a whole batch.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.app import current_app
from actors.metrics import count_stage
from usecases import attachment_scanning

QUEUE = "attachment_scan"
TIME_LIMIT_S = 30 * 60
STOP_STARTING_AFTER_S = TIME_LIMIT_S - 2 * attachment_scanning.LIMITS.seconds
"""No new file after this: the last one (at most the per-file limit) still ends inside the time limit."""


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=TIME_LIMIT_S * 1000)
def scan_attachments() -> None:
    """Read attachments without a scan outcome until the backlog or the time budget ends (read ones are skipped)."""
    counts = attachment_scanning.scan_pending(current_app(), datetime.now(UTC), stop_after=STOP_STARTING_AFTER_S)
    count_stage("attachment_scan", counts)
