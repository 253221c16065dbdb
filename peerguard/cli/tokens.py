"""``peerguard tokens``: API access tokens for other systems (shown once, stored as a hash)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from peerguard.cli._common import PeerGuardUsageError, open_app


@click.group()
def tokens() -> None:
    """API tokens for the HTTP API (`Authorization: Bearer …`)."""


@tokens.command("create")
@click.option("--name", required=True, help="Who uses the token (shown in request logs), e.g. marketplace-backend.")
@click.option("--scope", "scopes", multiple=True, required=True, metavar="SCOPES",
              help="Comma-separated: ingest (PUT messages), read (GET), scan (POST /v1/scan), webhooks.")
def create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a token and print it once; only its hash is kept, so store it now."""
    from usecases.tokens import TokenError, create_token

    app = open_app()
    try:
        token = create_token(app, name, scopes, datetime.now(UTC))
    except TokenError as exc:
        raise PeerGuardUsageError(str(exc), exit_code=2) from None
    click.echo(token)
    click.echo("This token is shown once; PeerGuard keeps only its hash.", err=True)


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
def list_(as_json: bool) -> None:
    """Every token: key id, name, scopes, created, revoked (never the secret)."""
    from usecases.tokens import list_tokens

    rows = list_tokens(open_app())
    items = [{"key_id": r.key_id, "name": r.name, "scopes": list(r.scopes), "created_at": r.created_at.isoformat(),
              "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None} for r in rows]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        state = f"revoked {item['revoked_at'][:16]}" if item["revoked_at"] else "active"
        click.echo(f"{item['key_id']:<14} {item['name'][:32]:<32} {','.join(item['scopes']):<28} {state}")


@tokens.command("revoke")
@click.argument("key_id_or_name")
def revoke(key_id_or_name: str) -> None:
    """Revoke the token with this key id, or every active token with this name (takes effect within 2 s)."""
    from usecases.tokens import revoke as revoke_tokens

    count = revoke_tokens(open_app(), key_id_or_name, datetime.now(UTC))
    if not count:
        raise PeerGuardUsageError(f"no active token with key id or name {key_id_or_name!r}", exit_code=4)
    click.echo(f"revoked {count} token(s)")
