"""Responses: keep seller response deadlines in step with messages and queue the notices that fall due.

The database is the source of truth: the sweep finds due work by ``next_due_at``, so a lost or
duplicated doorbell ring costs nothing but one idempotent query.
"""

from __future__ import annotations

import logging
from datetime import datetime

from storage import responses as store
from usecases.app import App

log = logging.getLogger(__name__)

# Sellers whose invalid time zone has already been reported by this process ("say so once").
_reported_zones: set[tuple[int, str]] = set()


def sweep(app: App, now: datetime) -> dict[str, int]:
    """One idempotent pass: messages → deadlines, then due stages → outbox rows."""
    policy, identity = app.settings.responses, app.settings.mail
    synced = store.sync_new_messages(app.session_factory, now, policy)
    swept = store.sweep_due(app.session_factory, now, policy, identity)
    _report_invalid_zones(swept.invalid_zones)
    counts = {f"sync_{k}": v for k, v in synced.items()} | dict(swept.counts)
    return {k: v for k, v in counts.items() if v}


def _report_invalid_zones(invalid: dict[int, str]) -> None:
    for seller_id, name in invalid.items():
        if (seller_id, name) not in _reported_zones:
            _reported_zones.add((seller_id, name))
            log.warning("seller %s has an unknown time zone %r; quiet hours use UTC", seller_id, name)
