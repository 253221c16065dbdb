"""Run Alembic migrations programmatically (``peerguard db upgrade``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parents[1]


def alembic_config(database_url: str) -> Config:
    """An Alembic config bound to ``database_url`` whatever the current directory."""
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Take the schema down to ``revision`` (``base`` drops everything)."""
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None if unmigrated."""
    from sqlalchemy import inspect, text

    from storage.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)


def head_revision() -> str | None:
    """The newest revision in the migration scripts.

    Read from the scripts' own ``revision``/``down_revision`` lines rather than through
    Alembic, because every command checks the schema and importing Alembic costs a good part
    of a second; a test keeps this in agreement with Alembic's own answer.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (ROOT / "alembic" / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        if found := _REVISION.search(source):
            revisions.add(found.group(1))
        parents.update(_DOWN_REVISION.findall(source))
    heads = revisions - parents
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have several heads: {sorted(heads)}")
    return heads.pop() if heads else None


def is_current(database_url: str) -> bool:
    """True when the database is at the newest revision."""
    return current_revision(database_url) == head_revision()
