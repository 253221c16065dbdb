"""Plain-SQL reads on the bare DB-API driver (sqlite3 or psycopg), without SQLAlchemy.

The read-only commands (`review list`, `sellers stats`, `outbox status`, `status`) must answer
within 300 ms as a whole process, and importing SQLAlchemy's ORM with the model classes takes
longer than that on its own. So their queries are written once as SQL text over a ``Reader``:
``DirectReader`` here runs them on the driver alone, and ``storage.db.SessionReader`` runs the
same statements on a session (the web app, the metrics, the tests). Both take ``:name``
parameters and hand back plain tuples; ``utc`` and ``flag`` turn a column into the value the
mapped types would have given (SQLite returns timestamps as text and booleans as integers).

``connect_if_current`` opens a ``DirectReader`` only when nothing else is needed first: a URL
form it understands, an existing database, a schema at the newest migration. Otherwise it
answers None and the caller takes the regular path, which migrates SQLite or says in its usual
words why it cannot go on. This module imports neither SQLAlchemy nor a driver at import time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

__all__ = ["DirectReader", "Reader", "connect_if_current", "flag", "parse_url", "sqlite_parameters", "utc"]


class Reader(Protocol):
    """Runs one SELECT with ``:name`` parameters and returns its rows as tuples."""

    dialect: str
    """``postgresql`` or ``sqlite``."""

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[tuple]: ...

    def stream(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Iterator[tuple]:
        """The same rows, handed over while the rest are still coming where the driver can (read them all before the next statement)."""
        ...


# --- Values ------------------------------------------------------------------------------------


SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy's SQLite dialect stores a DateTime (UTC here): comparisons are on this text."""


def utc(value: datetime | str | None) -> datetime | None:
    """An aware UTC datetime from what either driver returns for a UTC timestamp column (or an aggregate of one)."""
    if value is None or getattr(value, "tzinfo", None) is UTC:
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def flag(value: Any) -> bool:
    """A boolean column as a bool (SQLite stores 0 and 1)."""
    return bool(value)


def sqlite_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as SQLite compares them: datetimes in the stored UTC text form, not sqlite3's default adapter."""
    return {name: value.astimezone(UTC).strftime(SQLITE_DATETIME) if isinstance(value, datetime) else value
            for name, value in parameters.items()}


# SQLAlchemy's own rule for a bound name in text(): not after ':' (a cast) or a word character.
_NAMED = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def pyformat(sql: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s`` (a literal ``%`` doubled)."""
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))


# --- URLs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriverTarget:
    """What the driver's ``connect`` needs: a SQLite file, or psycopg's keyword arguments."""

    dialect: str
    sqlite_path: Path | None = None
    psycopg_arguments: tuple[tuple[str, str | int], ...] = ()


# The grammar of sqlalchemy.engine.make_url (tests/foundation/test_direct_reads.py compares the two).
_URL = re.compile(
    r"""(?P<name>[\w+]+)://
        (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
        (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
        (?:/(?P<database>[^?]*))?
        (?:\?(?P<query>.*))?""",
    re.X,
)
_PSYCOPG_NAMES = ("postgresql+psycopg", "postgresql")
_SQLITE_NAMES = ("sqlite", "sqlite+pysqlite")


def parse_url(url: str) -> DriverTarget | None:
    """The driver target of a SQLAlchemy URL, or None for any form this reader leaves to SQLAlchemy.

    Understood: ``sqlite:///relative`` and ``sqlite:////absolute`` files without options, and
    ``postgresql[+psycopg]://user:password@host:port/db?libpq_option=…`` with one host. An
    in-memory SQLite database, SQLite URI options, several hosts or a repeated option are not.
    """
    found = _URL.fullmatch(url)
    if found is None:
        return None
    parts = found.groupdict()
    name = parts["name"].lower()
    if name in _SQLITE_NAMES:
        return _sqlite_target(parts)
    if name in _PSYCOPG_NAMES:
        return _psycopg_target(parts)
    return None


def _sqlite_target(parts: dict[str, str | None]) -> DriverTarget | None:
    if any(parts[key] is not None for key in ("username", "password", "ipv6host", "ipv4host", "port", "query")):
        return None
    database = unquote(parts["database"] or "")
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return DriverTarget("sqlite", sqlite_path=Path(database).absolute())


def _psycopg_target(parts: dict[str, str | None]) -> DriverTarget | None:
    host = parts["ipv4host"] or parts["ipv6host"]
    if host is not None and "," in host:
        return None
    if parts["port"] and not parts["port"].isdigit():
        return None
    # Like URL.translate_connect_args: an empty part (``bob:@host``, no port) is left out, not passed empty.
    found = {"user": unquote(parts["username"] or ""), "password": unquote(parts["password"] or ""),
             "dbname": unquote(parts["database"] or ""), "host": host, "port": int(parts["port"] or 0)}
    arguments: dict[str, str | int] = {key: value for key, value in found.items() if value}
    options = parse_qsl(parts["query"] or "")
    if len({key for key, _ in options}) != len(options):
        return None
    arguments.update(options)
    return DriverTarget("postgresql", psycopg_arguments=tuple(arguments.items()))


# --- Readers -----------------------------------------------------------------------------------


STREAM_CHUNK = 500
"""Rows per chunk of ``DirectReader.stream`` on PostgreSQL (about 50 kB of `sellers stats` rows)."""


class DirectReader:
    """A Reader on one DB-API connection of its own (autocommit: each SELECT sees the latest commits)."""

    def __init__(self, dialect: str, connection: Any) -> None:
        self.dialect = dialect
        self._connection = connection

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[tuple]:
        """Run one SELECT; ``:name`` parameters."""
        parameters = dict(parameters or {})
        if self.dialect == "sqlite":
            return self._connection.execute(sql, sqlite_parameters(parameters)).fetchall()
        with self._connection.cursor() as cursor:
            cursor.execute(pyformat(sql) if parameters else sql, parameters or None)
            return cursor.fetchall()

    def stream(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Iterator[tuple]:
        """Run one SELECT and yield its rows as they arrive: on PostgreSQL in chunks of ``STREAM_CHUNK``.

        The caller works on the first rows while the server still computes the next ones (the
        per-seller statistics come out of a group aggregate one seller at a time). libpq before 17
        has no chunked mode (one result per row costs far more), so there it is ``rows``.
        """
        if self.dialect == "sqlite":
            yield from self.rows(sql, parameters)
            return
        import psycopg

        if psycopg.pq.version() < 170000:
            yield from self.rows(sql, parameters)
            return
        parameters = dict(parameters or {})
        # Binary results: the same values, with less work on both sides than text (`sellers stats`'
        # 10,000 rows: about 6 of 16 ms of client decoding; docs/benchmarks.md, round 2 session 8).
        with self._connection.cursor(binary=True) as cursor:
            yield from cursor.stream(pyformat(sql) if parameters else sql, parameters or None, size=STREAM_CHUNK)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> DirectReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_reader(target: DriverTarget) -> DirectReader:
    """Connect to ``target`` with its driver (raises the driver's own error when it cannot)."""
    if target.dialect == "sqlite":
        import sqlite3

        # The same 30 s busy timeout as storage.db's engines: a writer holding the lock is waited for.
        return DirectReader("sqlite", sqlite3.connect(target.sqlite_path, timeout=30, isolation_level=None))
    import psycopg

    connection = psycopg.connect(**dict(target.psycopg_arguments), autocommit=True)
    # Timestamps then arrive with datetime.UTC as their zone, which ``utc`` passes through untouched.
    connection.execute("SET TIME ZONE 'UTC'")
    return DirectReader("postgresql", connection)


def connect_if_current(database_url: str, head: str | None) -> DirectReader | None:
    """A DirectReader when the URL is understood, the database exists and its schema is at ``head``; else None.

    Any failure to connect is None as well: the regular path then tries again and reports it.
    """
    target = parse_url(database_url)
    if target is None or target.sqlite_path is not None and not target.sqlite_path.is_file():
        return None
    try:
        reader = open_reader(target)
    except Exception:  # noqa: BLE001 - the regular path reports the failure in its own words
        return None
    if schema_revision(reader) != head or head is None:
        reader.close()
        return None
    return reader


def schema_revision(reader: DirectReader) -> str | None:
    """The Alembic revision the database is at (None when it has none, or no version table)."""
    try:
        found = reader.rows("SELECT version_num FROM alembic_version")
    except Exception:  # noqa: BLE001 - no version table (a new database) is "not current", whatever the driver
        return None
    return found[0][0] if len(found) == 1 else None


def placeholders(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``:p0, :p1, …`` for an IN list, with its parameters."""
    names = {f"{prefix}{index}": value for index, value in enumerate(values)}
    return ", ".join(f":{name}" for name in names), names
