"""Response-time actors: sync deadlines from new messages, then the due-sweep that queues notices.

The database is the source of truth: the sweep finds due work by ``next_due_at``, so a lost or
duplicated broker message costs nothing but one idempotent query.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.context import AppContext, app_context
from actors.metrics import STAGE_ITEMS
from actors.outbox import deliver_outbox, dispatch_outbox
from pipeline.notices import MailIdentity
from pipeline.responses import ResponsePolicy
from storage import responses as store
from storage.db import is_postgres

log = logging.getLogger(__name__)

SWEEP_WORKERS = 1  # measured: on this 2-core machine a second thread did not pay (docs/benchmarks.md)

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
    swept = parallel_sweep(context, now, policy, identity, SWEEP_WORKERS if is_postgres(context.engine) else 1)
    _report_invalid_zones(swept.invalid_zones)
    counts = {f"sync_{k}": v for k, v in synced.items()} | dict(swept.counts)
    for name, value in counts.items():
        STAGE_ITEMS.labels("responses", name).inc(value)
    return {k: v for k, v in counts.items() if v}


def parallel_sweep(context: AppContext, now: datetime, policy: ResponsePolicy, identity: MailIdentity, workers: int) -> store.SweepOutcome:
    """Run the due-sweep in ``workers`` threads; SKIP LOCKED gives each its own rows.

    While one thread waits for PostgreSQL to write a batch, another decides the next one, so
    two workers use both the database and Python instead of taking turns.
    """
    sweep = partial(store.sweep_due, context.session_factory, now, policy, identity)
    if workers <= 1:
        return sweep()
    total = store.SweepOutcome()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep") as pool:
        for future in [pool.submit(sweep) for _ in range(workers)]:
            total.merge(future.result())
    return total


def _report_invalid_zones(invalid: dict[int, str]) -> None:
    for seller_id, name in invalid.items():
        if (seller_id, name) not in _reported_zones:
            _reported_zones.add((seller_id, name))
            log.warning("seller %s has an unknown time zone %r; quiet hours use UTC", seller_id, name)


def run_once(context: AppContext, now: datetime) -> dict[str, int]:
    """What ``peerguard run --once --now T`` needs from this feature: sweep as of T, then deliver."""
    return {**sweep_responses(context, now), **{f"mail_{k}": v for k, v in deliver_outbox(context, now).items()}}
