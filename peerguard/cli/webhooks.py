"""``peerguard webhooks``: receivers of decision events (Standard Webhooks), their deliveries, redelivery."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from peerguard.cli._common import PeerGuardUsageError, open_app


@click.group()
def webhooks() -> None:
    """Webhook endpoints that receive decision events (message.flagged, strike.issued, …)."""


@webhooks.command("add")
@click.argument("url")
@click.option("--events", "events", multiple=True, required=True, metavar="TYPES",
              help="Comma-separated event types, or * for all: message.flagged, review.resolved, strike.issued, "
                   "strike.overturned, user.restricted, user.unrestricted, user.suspension_recommended, "
                   "response.breached, transcript.ready.")
def add(url: str, events: tuple[str, ...]) -> None:
    """Register URL; print its id and signing secret (shown once; receivers verify webhook-signature with it)."""
    from usecases.webhooks import WebhookError, add_endpoint

    try:
        endpoint_id, secret = add_endpoint(open_app(), url, events, datetime.now(UTC))
    except WebhookError as exc:
        raise PeerGuardUsageError(str(exc), exit_code=2) from None
    click.echo(f"endpoint {endpoint_id}")
    click.echo(f"secret {secret}")
    click.echo("The secret is shown once; see docs/webhooks.md for how a receiver verifies a delivery.", err=True)


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
def list_(as_json: bool) -> None:
    """Every endpoint: id, URL, events, enabled or disabled (and why)."""
    from usecases.webhooks import endpoints

    rows = endpoints(open_app())
    items = [{"id": e.id, "url": e.url, "events": list(e.events), "status": e.status,
              "failing_since": e.failing_since.isoformat() if e.failing_since else None,
              "disabled_reason": e.disabled_reason} for e in rows]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        reason = f" ({item['disabled_reason']})" if item["disabled_reason"] else ""
        click.echo(f"{item['id']:>4} {item['status']:<9} {item['url']}  [{','.join(item['events'])}]{reason}")


@webhooks.command("remove")
@click.argument("endpoint_id", type=int)
def remove(endpoint_id: int) -> None:
    """Delete an endpoint and its pending deliveries."""
    from usecases.webhooks import remove_endpoint

    if not remove_endpoint(open_app(), endpoint_id):
        raise PeerGuardUsageError(f"no webhook endpoint {endpoint_id}", exit_code=4)
    click.echo(f"endpoint {endpoint_id} removed")


@webhooks.command("enable")
@click.argument("endpoint_id", type=int)
def enable(endpoint_id: int) -> None:
    """Re-enable an endpoint disabled after failures or a 410; its waiting deliveries resume."""
    from usecases.webhooks import enable_endpoint

    if not enable_endpoint(open_app(), endpoint_id, datetime.now(UTC)):
        raise PeerGuardUsageError(f"no webhook endpoint {endpoint_id}", exit_code=4)
    click.echo(f"endpoint {endpoint_id} enabled")


@webhooks.command("deliveries")
@click.option("--endpoint", "endpoint_id", type=int, help="Only this endpoint.")
@click.option("--status", type=click.Choice(["pending", "delivered", "dead"]), help="Only this status.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
def deliveries_(endpoint_id: int | None, status: str | None, limit: int, as_json: bool) -> None:
    """Recent deliveries, newest first: webhook-id, event type, status, attempts, last answer."""
    from usecases.webhooks import deliveries

    rows = deliveries(open_app(), endpoint_id, status, limit)
    items = [{"id": d.id, "endpoint": d.endpoint_id, "webhook_id": d.event_id, "type": d.type, "status": d.status,
              "attempts": d.attempts, "last_status": d.last_status, "last_error": d.last_error,
              "next_attempt_at": d.next_attempt_at.isoformat(),
              "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None} for d in rows]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        click.echo(f"{item['id']:>7} ep{item['endpoint']:<3} {item['type']:<28} {item['status']:<9} "
                   f"attempts={item['attempts']} last={item['last_status'] or '-'} {item['webhook_id']}")


@webhooks.command("redeliver")
@click.argument("delivery_id", type=int)
def redeliver(delivery_id: int) -> None:
    """Send a delivery again (same webhook-id, so receivers can tell it is a repeat)."""
    from usecases.webhooks import redeliver as again

    if not again(open_app(), delivery_id, datetime.now(UTC)):
        raise PeerGuardUsageError(f"no webhook delivery {delivery_id}", exit_code=4)
    click.echo(f"delivery {delivery_id} queued again")
