"""Response-time actors: sync deadlines from new messages, then the due-sweep that queues notices.

The database is the source of truth: the sweep finds due work by ``next_due_at``, so a lost or
duplicated broker message costs nothing but one idempotent query.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.context import AppContext, app_context
from actors.metrics import STAGE_ITEMS
from actors.outbox import deliver_outbox, dispatch_outbox
from pipeline.notices import MailIdentity
from pipeline.responses import ResponsePolicy
from storage import responses as store

log = logging.getLogger(__name__)

# Sellers whose invalid time zone has already been reported by this process ("say so once").
_reported_zones: set[tuple[int, str]] = set()


@dramatiq.actor(queue_name="sweeps", max_retries=0, time_limit=10 * 60 * 1000)
def response_sweep() -> None:
    """Sync deadlines and record due stages as of now, then ring the mail dispatcher."""
    counts = sweep_responses(app_context(), datetime.now(UTC))
    if counts.get("queued_emails"):
        dispatch_outbox.send()


def sweep_responses(context: AppContext, now: datetime) -> dict[str, int]:
    """One idempotent pass: messages → deadlines, then due stages → outbox rows."""
    policy = ResponsePolicy.from_mapping(context.settings.extra)
    identity = MailIdentity.from_mapping(context.settings.extra, context.settings.platform_domains)
    synced = store.sync_new_messages(context.session_factory, now, policy)
    swept = store.sweep_due(context.session_factory, now, policy, identity)
    _report_invalid_zones(swept.invalid_zones)
    counts = {f"sync_{k}": v for k, v in synced.items()} | dict(swept.counts)
    for name, value in counts.items():
        STAGE_ITEMS.labels("responses", name).inc(value)
    return {k: v for k, v in counts.items() if v}


def _report_invalid_zones(invalid: dict[int, str]) -> None:
    for seller_id, name in invalid.items():
        if (seller_id, name) not in _reported_zones:
            _reported_zones.add((seller_id, name))
            log.warning("seller %s has an unknown time zone %r; quiet hours use UTC", seller_id, name)


def run_once(context: AppContext, now: datetime) -> dict[str, int]:
    """What ``peerguard run --once --now T`` needs from this feature: sweep as of T, then deliver."""
    return {**sweep_responses(context, now), **{f"mail_{k}": v for k, v in deliver_outbox(context, now).items()}}
