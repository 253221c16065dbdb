"""Throw-away PostgreSQL databases for test runs and benchmarks: created, migrated, dropped.

Test support, not product code: it lives under tests/ so the service itself cannot drop databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from storage import migrations
from storage.db import make_engine


def create_database(admin_url: str, name: str, migrate: bool = True) -> str:
    """Create (replacing any leftover of the same name) and migrate a database; return its URL."""
    drop_database(admin_url, name)
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    if migrate:
        migrations.upgrade(url)
    return url


def drop_database(admin_url: str, name: str) -> None:
    """Drop the database, disconnecting whoever still uses it."""
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def scratch_database(admin_url: str, name: str, migrate: bool = True) -> Iterator[str]:
    """A fresh, migrated database for the ``with`` block, dropped afterwards."""
    url = create_database(admin_url, name, migrate)
    try:
        yield url
    finally:
        drop_database(admin_url, name)
