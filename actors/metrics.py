"""Prometheus metrics for actors and stages, as a Dramatiq middleware plus plain counters."""

from __future__ import annotations

import time

from dramatiq.middleware import Middleware
from prometheus_client import Counter, Histogram

ACTOR_MESSAGES = Counter(
    "peerguard_actor_messages_total", "Dramatiq messages processed", ["actor", "outcome"]
)
ACTOR_SECONDS = Histogram("peerguard_actor_seconds", "Time spent in one actor call", ["actor"])
STAGE_ITEMS = Counter("peerguard_stage_items_total", "Items handled by a pipeline stage", ["stage", "outcome"])
COMMIT_TO_FINDING = Histogram(
    "peerguard_commit_to_scan_seconds", "From a message's commit to its scan (findings stored)",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
)
EMAIL_SEND_SECONDS = Histogram(
    "peerguard_email_send_seconds", "One email's SMTP transaction, from MAIL FROM to the server's reply",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)


def count_stage(stage: str, counts: dict[str, int]) -> None:
    """Add a use case's counts to the stage counter."""
    for outcome, value in counts.items():
        if value:
            STAGE_ITEMS.labels(stage, outcome).inc(value)


class ActorMetrics(Middleware):
    """Counts and times every actor call; the cross-cutting concern stays out of actors."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def before_process_message(self, broker, message) -> None:
        self._started[message.message_id] = time.perf_counter()

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        started = self._started.pop(message.message_id, None)
        if started is not None:
            ACTOR_SECONDS.labels(message.actor_name).observe(time.perf_counter() - started)
        ACTOR_MESSAGES.labels(message.actor_name, "error" if exception else "ok").inc()

    def after_skip_message(self, broker, message) -> None:
        self._started.pop(message.message_id, None)
        ACTOR_MESSAGES.labels(message.actor_name, "skipped").inc()
