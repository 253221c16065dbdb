"""Webhooks: endpoints, decision events written in the decision's own transaction, and their delivery.

``record`` is called inside the transaction that makes a decision, so an event exists exactly when
its decision does. Delivery is at least once with a stable ``webhook-id``, in order per ordering key
(the user an event is about), signed as the Standard Webhooks specification says; failures are
retried with backoff for 24 hours, and an endpoint failing for a day, or answering 410, is disabled
until someone re-enables it (its pending deliveries wait, nothing is dropped).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pipeline import webhooks as rules
from storage import webhooks as store
from storage.db import transaction
from storage.http import PostResult, WebhookPoster
from usecases.app import App

log = logging.getLogger(__name__)

CLAIM_BATCH = 500
LEASE = timedelta(minutes=2)
SENDERS = 8
"""Threads posting at once; deliveries of one ordering key never run concurrently (head-of-line claims)."""


class WebhookError(ValueError):
    """An endpoint could not be added (bad URL or events)."""


def add_endpoint(app: App, url: str, events: Iterable[str], now: datetime) -> tuple[int, str]:
    """Register a receiver; return its id and its signing secret (shown once)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise WebhookError(f"the endpoint must be an http(s) URL, got {url!r}")
    try:
        wanted = rules.parse_event_types(events)
    except ValueError as exc:
        raise WebhookError(str(exc)) from None
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with transaction(app.session_factory) as session:
        return store.add_endpoint(session, url, secret, wanted, now), secret


def endpoints(app: App) -> list[store.EndpointRow]:
    with app.session_factory() as session:
        return store.endpoints(session)


def remove_endpoint(app: App, endpoint_id: int) -> bool:
    with transaction(app.session_factory) as session:
        return store.remove_endpoint(session, endpoint_id)


def enable_endpoint(app: App, endpoint_id: int, now: datetime) -> bool:
    """Re-enable a disabled endpoint by hand; its waiting deliveries go out on the next run."""
    with transaction(app.session_factory) as session:
        changed = store.set_endpoint_status(session, endpoint_id, "enabled", now)
    if changed:
        app.doorbell.deliver_webhooks()
    return changed


def deliveries(app: App, endpoint_id: int | None = None, status: str | None = None, limit: int = 50) -> list[store.DeliveryRow]:
    with app.session_factory() as session:
        return store.deliveries(session, endpoint_id, status, limit)


def redeliver(app: App, delivery_id: int, now: datetime) -> bool:
    with transaction(app.session_factory) as session:
        changed = store.redeliver(session, delivery_id, now)
    if changed:
        app.doorbell.deliver_webhooks()
    return changed


# --- Recording, inside the decision's transaction ------------------------------------------------


def record(session, event_type: str, ordering_key: str, data: Mapping[str, Any], now: datetime) -> str:
    """Write the event and its deliveries in the caller's transaction; return its webhook-id."""
    (event_id,) = record_many(session, [(event_type, ordering_key, data)], now)
    return event_id


def record_many(session, events: Sequence[tuple[str, str, Mapping[str, Any]]], now: datetime) -> list[str]:
    """Several events of one decision batch (endpoints read once); return their webhook-ids."""
    if not events:
        return []
    endpoints_now = store.endpoints(session)
    rows = []
    for event_type, ordering_key, data in events:
        if event_type not in rules.EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        targets = [e.id for e in endpoints_now if rules.subscribed(e.events, event_type)]
        rows.append(("msg_" + uuid.uuid4().hex, event_type, ordering_key, rules.payload(event_type, data, now), targets))
    # One statement for the events and one for their deliveries, in the given order (ordered per user).
    store.insert_events(session, rows, now)
    return [row[0] for row in rows]


# --- Delivery ------------------------------------------------------------------------------------


def deliver_due(app: App, now: datetime, poster: WebhookPoster | None = None, clock=lambda: datetime.now(UTC)) -> dict[str, int]:
    """Deliver every delivery due at ``now`` (head of its line), batch after batch; return counts."""
    own = poster is None
    poster = poster or WebhookPoster()
    counts: Counter[str] = Counter()
    try:
        with ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="webhook") as pool:
            while batch := _claim(app, now, clock()):
                results = list(pool.map(lambda d: (d, _post(poster, d, clock())), batch))
                _record_results(app, results, now, counts)
    finally:
        if own:
            poster.close()
    return {k: v for k, v in counts.items() if v}


def _claim(app: App, now: datetime, lease_now: datetime) -> list[store.ClaimedDelivery]:
    with transaction(app.session_factory) as session:
        return store.claim_due(session, now, lease_now, LEASE, CLAIM_BATCH)


def _post(poster: WebhookPoster, delivery: store.ClaimedDelivery, sent_at: datetime) -> PostResult:
    body = json.dumps(delivery.body, separators=(",", ":"), ensure_ascii=False)
    headers = {
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": _signer(delivery.secret).sign(delivery.event_id, sent_at, body),
    }
    return poster.post(delivery.url, body.encode(), headers)


def _record_results(app: App, results: Sequence[tuple[store.ClaimedDelivery, PostResult]], now: datetime,
                    counts: Counter[str]) -> None:
    delivered = [(d, r) for d, r in results if r.status is not None and rules.is_success(r.status)]
    by_endpoint: dict[int, list[tuple[store.ClaimedDelivery, PostResult]]] = defaultdict(list)
    for delivery, result in results:
        by_endpoint[delivery.endpoint_id].append((delivery, result))
    with transaction(app.session_factory) as session:
        store.mark_delivered(session, [d.id for d, _ in delivered], [r.status or 0 for _, r in delivered], now)
        counts["delivered"] += len(delivered)
        for endpoint_id, outcomes in by_endpoint.items():
            _endpoint_outcomes(session, endpoint_id, outcomes, now, counts)


def _endpoint_outcomes(session, endpoint_id: int, outcomes: list[tuple[store.ClaimedDelivery, PostResult]],
                       now: datetime, counts: Counter[str]) -> None:
    failed = [(d, r) for d, r in outcomes if r.status is None or not rules.is_success(r.status)]
    store.note_endpoint_health(session, endpoint_id, healthy=len(failed) < len(outcomes), now=now)
    if any(r.status == rules.GONE for _, r in failed):
        # The receiver asked never to be called again: stop now; its deliveries wait for a re-enable.
        store.set_endpoint_status(session, endpoint_id, "disabled", now, "the receiver answered 410 Gone")
        store.release(session, [d.id for d, _ in failed])
        counts["endpoint_disabled"] += 1
        return
    for delivery, result in failed:
        retry = rules.retry_at(delivery.attempts + 1, delivery.happened_at, now)
        store.mark_failed(session, delivery.id, result.status, result.error or f"HTTP {result.status}", retry)
        counts["retry" if retry else "dead"] += 1
    first_failure = outcomes[0][0].failing_since
    if failed and len(failed) == len(outcomes) and rules.should_disable(first_failure, now):
        store.set_endpoint_status(session, endpoint_id, "disabled", now, "failing for 24 hours")
        counts["endpoint_disabled"] += 1
        log.warning("webhook endpoint %s disabled after 24 hours of failures", endpoint_id)


def _signer(secret: str) -> Any:
    """A Standard Webhooks signer, imported on first use: commands that only queue events skip its import."""
    from standardwebhooks.webhooks import Webhook

    return Webhook(secret)
