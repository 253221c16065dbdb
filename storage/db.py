"""Engines and sessions. Nothing connects at import time: callers build what they need."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Engine", "Session", "sessionmaker", "make_engine", "make_session_factory", "transaction", "is_postgres", "redacted_url",
           "is_deadlock", "SessionReader"]


def make_engine(database_url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            from pathlib import Path

            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if kwargs.get("isolation_level") != "AUTOCOMMIT":
        # A web worker runs up to 40 request threads (anyio's limiter). With SQLAlchemy's default of
        # 5 kept connections, every request past the fifth at once opened a new PostgreSQL
        # connection (a backend fork and a login) and closed it on return: keep POOL_SIZE instead.
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    return create_engine(url, **kwargs)


POOL_SIZE = 16
"""PostgreSQL connections a process keeps open once it has needed them (idle ones cost a backend each)."""
POOL_OVERFLOW = 8
"""Further connections opened for a burst and closed on return (at most POOL_SIZE + POOL_OVERFLOW at once)."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit, so results outlive the transaction."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with session_factory() as session, session.begin():
        yield session


def is_postgres(session_or_engine: Session | Engine) -> bool:
    """True when the bound database is PostgreSQL (SKIP LOCKED, advisory locks, partial indexes)."""
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


class SessionReader:
    """A ``storage.direct.Reader`` on a session: the plain-SQL reads run inside the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[tuple]:
        """Run one SELECT; ``:name`` parameters, datetimes bound as the mapped UTC columns store them."""
        from storage.direct import sqlite_parameters

        parameters = dict(parameters or {})
        if self.dialect == "sqlite":
            parameters = sqlite_parameters(parameters)
        return [tuple(row) for row in self.session.execute(text(sql), parameters)]

    def stream(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Iterator[tuple]:
        """``rows``, one at a time (a session has them all before the first is handed over)."""
        return iter(self.rows(sql, parameters))


def is_deadlock(exc: BaseException) -> bool:
    """True for PostgreSQL's "deadlock detected" (SQLSTATE 40P01): the transaction was rolled back and may be retried."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == "40P01"


def redacted_url(url: str) -> str:
    """The database URL with its password hidden, for error messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparseable URL is reported as such, never echoed
        return "<unparseable URL>"


def ping_database(engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
    return True
