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


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=30 * 60 * 1000)
def scan_attachments() -> None:
    """Read every attachment without a scan outcome (idempotent: read ones are skipped)."""
    count_stage("attachment_scan", attachment_scanning.scan_pending(current_app(), datetime.now(UTC)))
