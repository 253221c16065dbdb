"""Webhook endpoints, events and deliveries: rows, the head-of-line claim, and delivery outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.orm import Session, aliased

from storage.bulk import insert_json_rows
from storage.db import is_postgres
from storage.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


@dataclass(frozen=True)
class EndpointRow:
    id: int
    url: str
    events: tuple[str, ...]
    status: str
    created_at: datetime
    failing_since: datetime | None
    disabled_reason: str | None


def add_endpoint(session: Session, url: str, secret: str, events: list[str], now: datetime) -> int:
    endpoint = WebhookEndpoint(url=url, secret=secret, events=events, status="enabled", created_at=now)
    session.add(endpoint)
    session.flush()
    return endpoint.id


def endpoints(session: Session) -> list[EndpointRow]:
    # Core columns, not ORM objects: the scanner reads the endpoints for every batch that flags a message.
    return [EndpointRow(row[0], row[1], tuple(row[2]), *row[3:]) for row in session.execute(_endpoints_query())]


@cache
def _endpoints_query():
    e = WebhookEndpoint.__table__.c
    return select(e.id, e.url, e.events, e.status, e.created_at, e.failing_since, e.disabled_reason).order_by(e.id)


def remove_endpoint(session: Session, endpoint_id: int) -> bool:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        return False
    session.delete(endpoint)
    return True


def set_endpoint_status(session: Session, endpoint_id: int, status: str, now: datetime, reason: str | None = None) -> bool:
    values: dict[str, Any] = {"status": status, "disabled_reason": reason,
                              "disabled_at": now if status == "disabled" else None}
    if status == "enabled":
        values["failing_since"] = None
    return bool(session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(**values)).rowcount)


@cache
def _events_insert():
    """Built once, on the table: the rows are plain column values (the ORM's bulk insert cost more client CPU)."""
    table = WebhookEvent.__table__
    return table.insert().returning(table.c.id, sort_by_parameter_order=True)


def insert_events(session: Session, events: Sequence[tuple[str, str, str, dict[str, Any], Sequence[int]]],
                  now: datetime) -> None:
    """Several events ``(event_id, type, ordering_key, body, endpoint_ids)`` in two statements, ids in the given order."""
    if not events:
        return
    session.flush()  # events added one by one earlier in this transaction keep their place in the order
    rows = [{"event_id": e[0], "type": e[1], "ordering_key": e[2], "payload": e[3], "created_at": now} for e in events]
    returned = insert_json_rows(session, WebhookEvent.__table__, rows, ["id"]) if is_postgres(session) else None
    ids = sorted(row[0] for row in returned) if returned is not None else list(session.scalars(_events_insert(), rows))
    deliveries = [
        {"endpoint_id": endpoint_id, "event_id": row_id, "ordering_key": ordering_key, "status": "pending", "attempts": 0,
         "created_at": now, "next_attempt_at": now}
        for row_id, (_, _, ordering_key, _, endpoint_ids) in zip(ids, events, strict=True) for endpoint_id in endpoint_ids
    ]
    if deliveries:
        session.execute(WebhookDelivery.__table__.insert(), deliveries)


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery to make now: where, what (the exact body), and how it went so far."""

    id: int
    endpoint_id: int
    url: str
    secret: str
    event_id: str
    body: dict[str, Any]
    happened_at: datetime
    attempts: int
    failing_since: datetime | None


def claim_due(session: Session, now: datetime, lease_now: datetime, lease: timedelta, limit: int) -> list[ClaimedDelivery]:
    """Claim due deliveries that head their (endpoint, ordering key) line; later ones wait their turn."""
    d, earlier = WebhookDelivery, aliased(WebhookDelivery)
    blocked = exists().where(earlier.endpoint_id == d.endpoint_id, earlier.ordering_key == d.ordering_key,
                             earlier.status == "pending", earlier.event_id < d.event_id)
    query = (
        select(d.id).join(WebhookEndpoint, WebhookEndpoint.id == d.endpoint_id)
        .where(d.status == "pending", d.next_attempt_at <= now, WebhookEndpoint.status == "enabled",
               (d.claimed_until.is_(None)) | (d.claimed_until < lease_now), ~blocked)
        .order_by(d.next_attempt_at, d.id).limit(limit)
    )
    if is_postgres(session):
        query = query.with_for_update(of=d, skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    session.execute(update(d).where(d.id.in_(ids)).values(claimed_until=lease_now + lease)
                    .execution_options(synchronize_session=False))
    rows = session.execute(
        select(d.id, d.endpoint_id, WebhookEndpoint.url, WebhookEndpoint.secret, WebhookEvent.event_id,
               WebhookEvent.payload, WebhookEvent.created_at, d.attempts, WebhookEndpoint.failing_since)
        .join(WebhookEndpoint, WebhookEndpoint.id == d.endpoint_id).join(WebhookEvent, WebhookEvent.id == d.event_id)
        .where(d.id.in_(ids)).order_by(d.event_id)
    )
    return [ClaimedDelivery(*row) for row in rows]


def mark_delivered(session: Session, delivery_ids: Sequence[int], statuses: Sequence[int], now: datetime) -> None:
    if not delivery_ids:
        return
    table = WebhookDelivery.__table__
    session.execute(table.update().where(table.c.id == bindparam("b_id")).values(
        status="delivered", delivered_at=now, claimed_until=None, last_status=bindparam("b_code"), last_error=None,
        attempts=table.c.attempts + 1), [{"b_id": i, "b_code": c} for i, c in zip(delivery_ids, statuses, strict=True)])


def mark_failed(session: Session, delivery_id: int, status: int | None, error: str, retry_at: datetime | None) -> None:
    """One failed attempt: try again at ``retry_at``, or dead when None."""
    values: dict[str, Any] = {"attempts": WebhookDelivery.attempts + 1, "last_status": status, "last_error": error[:1000],
                              "claimed_until": None}
    values.update({"next_attempt_at": retry_at} if retry_at else {"status": "dead"})
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
                    .execution_options(synchronize_session=False))


def release(session: Session, delivery_ids: Sequence[int]) -> None:
    """Give back claimed deliveries that were not attempted (their endpoint was just disabled)."""
    if delivery_ids:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(list(delivery_ids)))
                        .values(claimed_until=None).execution_options(synchronize_session=False))


def note_endpoint_health(session: Session, endpoint_id: int, healthy: bool, now: datetime) -> None:
    """A success clears the failing streak; a failure starts one if none is running."""
    endpoint = WebhookEndpoint
    if healthy:
        session.execute(update(endpoint).where(endpoint.id == endpoint_id, endpoint.failing_since.is_not(None))
                        .values(failing_since=None))
    else:
        session.execute(update(endpoint).where(endpoint.id == endpoint_id, endpoint.failing_since.is_(None))
                        .values(failing_since=now))


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    endpoint_id: int
    event_id: str
    type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None


def deliveries(session: Session, endpoint_id: int | None, status: str | None, limit: int) -> list[DeliveryRow]:
    d = WebhookDelivery
    query = (select(d.id, d.endpoint_id, WebhookEvent.event_id, WebhookEvent.type, d.status, d.attempts, d.next_attempt_at,
                    d.last_status, d.last_error, d.delivered_at)
             .join(WebhookEvent, WebhookEvent.id == d.event_id).order_by(d.id.desc()).limit(limit))
    if endpoint_id is not None:
        query = query.where(d.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(d.status == status)
    return [DeliveryRow(*row) for row in session.execute(query)]


def redeliver(session: Session, delivery_id: int, now: datetime) -> bool:
    """Send a delivery again (dead or delivered): pending, due now, with the same webhook-id."""
    return bool(session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        .values(status="pending", next_attempt_at=now, claimed_until=None).execution_options(synchronize_session=False)
    ).rowcount)


def events_of_type(session: Session, event_type: str | None = None) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(webhook-id, type, ordering key, body) of recorded events, oldest first."""
    query = select(WebhookEvent.event_id, WebhookEvent.type, WebhookEvent.ordering_key, WebhookEvent.payload).order_by(WebhookEvent.id)
    if event_type:
        query = query.where(WebhookEvent.type == event_type)
    return [tuple(row) for row in session.execute(query)]


