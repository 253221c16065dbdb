"""Webhook rules: the event types, who is subscribed, the payload, retries and when to give up.

Delivery follows the Standard Webhooks specification (https://www.standardwebhooks.com/): the
body is ``{"type", "timestamp", "data"}`` and the ``webhook-id`` stays the same on every retry,
so a receiver can drop duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

EVENT_TYPES = (
    "message.flagged",
    "review.resolved",
    "strike.issued",
    "strike.overturned",
    "user.restricted",
    "user.unrestricted",
    "user.suspension_recommended",
    "response.breached",
    "transcript.ready",
)
ALL_EVENTS = "*"
RETRY_FOR = timedelta(hours=24)
"""An event is retried this long after it happened, then recorded dead."""
DISABLE_AFTER = timedelta(hours=24)
"""An endpoint failing this long without one success is disabled until re-enabled by hand."""
_BACKOFF = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
            timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2), timedelta(hours=4))


def parse_event_types(raw: Iterable[str]) -> list[str]:
    """Known event types (or ``*``) from comma-separated values; raise ValueError for others."""
    wanted = {part.strip() for item in raw for part in item.split(",") if part.strip()}
    unknown = wanted - set(EVENT_TYPES) - {ALL_EVENTS}
    if unknown or not wanted:
        raise ValueError(f"events must be some of {', '.join(EVENT_TYPES)} (or *); got {', '.join(sorted(unknown)) or 'none'}")
    return [ALL_EVENTS] if ALL_EVENTS in wanted else [t for t in EVENT_TYPES if t in wanted]


def subscribed(endpoint_events: Iterable[str], event_type: str) -> bool:
    events = set(endpoint_events)
    return ALL_EVENTS in events or event_type in events


def payload(event_type: str, data: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """The body every receiver gets: type, when it happened (ISO-8601 UTC), and the marketplace's ids."""
    return {"type": event_type, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": dict(data)}


def retry_at(attempts: int, happened_at: datetime, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failures; None once the event is RETRY_FOR old.

    The last try falls exactly RETRY_FOR after the event, so an endpoint that failed all along has
    been failing for a full day by then and is disabled with it.
    """
    deadline = happened_at + RETRY_FOR
    if now >= deadline:
        return None
    step = _BACKOFF[min(max(attempts, 1), len(_BACKOFF)) - 1]
    return min(now + step, deadline)


def should_disable(failing_since: datetime | None, now: datetime) -> bool:
    return failing_since is not None and now - failing_since >= DISABLE_AFTER


def is_success(status: int) -> bool:
    return 200 <= status < 300


GONE = 410
"""A receiver answering 410 Gone asks not to be called again: the endpoint is disabled at once."""
