"""What every command shares: settings from the environment, one-line errors, the schema check."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import click

from peerguard.cli.errors import PeerGuardUsageError
from usecases.settings import Settings, SettingsError

if TYPE_CHECKING:
    from storage.direct import Reader
    from usecases.app import App


def load_settings() -> Settings:
    """Settings from the environment; a bad value is a one-line error (exit status 2), not a traceback."""
    try:
        return Settings.from_environment()
    except SettingsError as exc:
        raise PeerGuardUsageError(f"configuration: {exc}", exit_code=2) from None


def open_app(migrate_sqlite: bool = True, sends_email: str | None = None) -> "App":
    """The App for this process, with the schema checked (and, on SQLite, created).

    ``sends_email`` names a command that delivers email: it refuses to start with the published
    development key unless PEERGUARD_ENV is ``development``.
    """
    settings = load_settings()
    if sends_email:
        try:
            settings.require_production_key(sends_email)
        except SettingsError as exc:
            raise PeerGuardUsageError(str(exc), exit_code=2) from None
    # Import here so `peerguard --help` never needs the broker or the database.
    from actors.app import BrokerDoorbell, set_current_app
    from usecases.app import App, SilentDoorbell

    ensure_schema(settings.database_url, migrate_sqlite)
    # Without Redis nothing outlives this command to answer a ring: the work waits, committed,
    # for the next `peerguard run` (which sweeps for it).
    app = App.from_settings(settings, BrokerDoorbell() if settings.redis_url else SilentDoorbell())
    set_current_app(app)
    return app


@contextmanager
def read_only() -> Iterator[tuple[Settings, Reader]]:
    """Settings and a Reader for a command that only reads (`review list`, `sellers stats`, `outbox status`, `status`).

    The bare driver when the database is reachable and its schema current: such a command then
    imports neither SQLAlchemy nor the model classes (half a second before it could read a row).
    Anything else goes the regular way, through ``open_app``, which migrates an embedded SQLite
    database or explains in one line why it cannot go on.
    """
    from storage import direct, migrations

    settings = load_settings()
    reader = direct.connect_if_current(settings.database_url, migrations.head_revision())
    if reader is not None:
        # At interpreter exit the cyclic collector runs over every object still alive (all the
        # modules' functions and classes, and here 10,000 sellers' rows): 50-80 ms of CPU of a
        # loaded machine for `sellers stats` (docs/benchmarks.md, round 2 session 6). These
        # commands leave nothing behind that needs it (the connection is closed below, stdout is
        # flushed by the interpreter itself), so the collector is told to leave everything alone
        # then. Registered for exit, not done now: a test running the command in-process keeps
        # its collector.
        import atexit
        import gc

        atexit.unregister(gc.freeze)  # once, however often a test runs commands in one process
        atexit.register(gc.freeze)
        with reader:
            yield settings, reader
        return
    from storage.db import SessionReader

    app = open_app()
    with app.session_factory() as session:
        yield settings, SessionReader(session)
    app.dispose()


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
    from storage.db import redacted_url

    return redacted_url(url)


def echo_err(message: str) -> None:
    click.echo(message, err=True)


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()
