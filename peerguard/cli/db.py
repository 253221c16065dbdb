"""``peerguard db``: schema migrations."""

from __future__ import annotations

import click

from peerguard.cli._common import load_settings


@click.group()
def db() -> None:
    """Create or migrate the database schema (Alembic; `alembic upgrade head` works too)."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Upgrade the schema of DATABASE_URL to REVISION (default: head)."""
    from storage import migrations

    settings = load_settings()
    migrations.upgrade(settings.database_url, revision)
    click.echo(f"database at {migrations.current_revision(settings.database_url)}")


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Downgrade the schema of DATABASE_URL to REVISION (`base` drops every table)."""
    from storage import migrations

    settings = load_settings()
    migrations.downgrade(settings.database_url, revision)
    click.echo(f"database at {migrations.current_revision(settings.database_url) or 'base'}")


@db.command()
def current() -> None:
    """Print the schema revision of DATABASE_URL and the newest one available."""
    from storage import migrations

    settings = load_settings()
    click.echo(f"current: {migrations.current_revision(settings.database_url) or 'base'}")
    click.echo(f"head:    {migrations.head_revision()}")
