"""What every command shares: settings from the environment, one-line errors, the schema check."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone

import click

from pipeline.settings import Settings, SettingsError


class PeerGuardUsageError(click.ClickException):
    """A one-line error with a chosen exit status."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def load_settings() -> Settings:
    """Settings from the environment; a bad value is a one-line error, not a traceback."""
    try:
        settings = Settings.from_mapping(os.environ)
        _check_policies(settings)
    except SettingsError as exc:
        raise PeerGuardUsageError(f"configuration: {exc}", exit_code=2) from None
    return settings


def _check_policies(settings: Settings) -> None:
    """Build every policy once at start, so a bad PEERGUARD_* value stops the command here
    rather than failing each batch later."""
    from pipeline.notices import MailIdentity
    from pipeline.responses import ResponsePolicy
    from pipeline.review import ReviewPolicy

    ResponsePolicy.from_mapping(settings.extra)
    ReviewPolicy.from_mapping(settings.extra)
    MailIdentity.from_mapping(settings.extra, settings.platform_domains)


def open_context(migrate_sqlite: bool = True):
    """The application context for this process, with the schema checked (and, on SQLite, created)."""
    settings = load_settings()
    # Import here so `peerguard --help` never needs the broker or the database.
    from actors.context import AppContext, set_app_context

    ensure_schema(settings.database_url, migrate_sqlite)
    context = AppContext.from_settings(settings)
    set_app_context(context)
    return context


def ensure_schema(database_url: str, migrate_sqlite: bool) -> None:
    """Upgrade the embedded SQLite database automatically; ask for an explicit upgrade elsewhere."""
    from storage import migrations

    try:
        if migrations.is_current(database_url):
            return
    except Exception as exc:  # noqa: BLE001 - any connection failure becomes one clear line
        raise PeerGuardUsageError(f"cannot reach the database ({_redact(database_url)}): {_first_line(exc)}") from None
    if database_url.startswith("sqlite") and migrate_sqlite:
        migrations.upgrade(database_url)
        return
    raise PeerGuardUsageError("the database schema is not up to date: run `peerguard db upgrade`")


def parse_now(value: str | None) -> datetime:
    """--now as an aware UTC datetime (default: the clock)."""
    if value is None:
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not ISO-8601: {value!r}", param_hint="--now") from None
    if parsed.tzinfo is None:
        raise click.BadParameter("needs a time zone, e.g. 2026-11-25T14:00:00Z", param_hint="--now")
    return parsed.astimezone(timezone.utc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<unparseable URL>"


def echo_err(message: str) -> None:
    click.echo(message, err=True)


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()
