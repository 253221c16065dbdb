"""Shared fixtures: a fresh PostgreSQL database per run, a dedicated Redis db, SQLite per test.

The servers are real. When one is unreachable the run stops with a clear message (the README's
test command starts them first); nothing is skipped silently.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

# Unit tests run on the in-process StubBroker; end-to-end tests pass REDIS_URL to subprocesses.
# This must happen before anything imports actors.broker.
os.environ.pop("REDIS_URL", None)
os.environ.pop("DATABASE_URL", None)
# Commands that send email refuse the development signing key outside development; the tests
# that check that refusal set PEERGUARD_ENV=production themselves.
os.environ["PEERGUARD_ENV"] = "development"
os.environ.pop("PEERGUARD_SECRET_KEY", None)

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text

from storage import migrations
from storage.db import make_engine
from storage.models import Base
from tests import scratch_db
from usecases.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("PEERGUARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = os.environ.get("PEERGUARD_TEST_REDIS", "redis://127.0.0.1:6379/13")

# Property tests draw the same examples on every run ("reproducible", the default), so a red CI
# run can be repeated and a green one means the same thing twice. `PEERGUARD_HYPOTHESIS=explore`
# draws fresh examples to hunt for new counter-examples; a failure prints the example to pin.
hypothesis_settings.register_profile("reproducible", derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("PEERGUARD_HYPOTHESIS", "reproducible"))


def _fail_unreachable(what: str, exc: Exception) -> None:
    pytest.exit(f"{what} is not reachable ({exc.__class__.__name__}: {exc}). "
                "Run the tests with the README's test command, which starts it.", returncode=3)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run, dropped afterwards."""
    name = f"peerguard_test_{uuid.uuid4().hex[:10]}"
    try:
        url = scratch_db.create_database(ADMIN_URL, name)
    except Exception as exc:  # noqa: BLE001
        _fail_unreachable("PostgreSQL at " + ADMIN_URL, exc)
    yield url
    scratch_db.drop_database(ADMIN_URL, name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied per test so each test starts empty and fast."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    migrations.upgrade(f"sqlite:///{path}")
    return path


def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """The run's PostgreSQL database, emptied after the test (and brought back to head if a failed
    migration test left it downgraded, so one failure does not cascade into every later test)."""
    yield postgres_url
    if not migrations.is_current(postgres_url):
        migrations.upgrade(postgres_url)
    _truncate_all(postgres_url)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "peerguard.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    """Each storage test runs on both SQLite and PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings.from_environment({
        "PEERGUARD_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": db_url,
        "EMAIL_URL": (tmp_path / "outbox").as_uri(),
        "PEERGUARD_STAFF_EMAIL": "safety@peermetals.com",
    })


@pytest.fixture
def app(settings: Settings):
    """An application context on the test database, installed for actors to find."""
    from actors.app import BrokerDoorbell, set_current_app
    from usecases.app import App

    context = App.from_settings(settings, BrokerDoorbell())
    set_current_app(context)
    yield context
    set_current_app(None)
    context.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A dedicated Redis db number, flushed before and after."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        client.flushdb()
    except Exception as exc:  # noqa: BLE001
        _fail_unreachable("Redis at " + TEST_REDIS_URL, exc)
    yield TEST_REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def stub_broker():
    """The in-process broker, emptied around each test."""
    from actors.broker import broker

    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def stub_worker(stub_broker):
    from dramatiq import Worker

    worker = Worker(stub_broker, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()


SHARED_EVAL = ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="session")
def shared_eval() -> Path:
    """The shared evaluation corpus beside the clone (``../shared/eval``).

    It lives outside the repository, so a clone with nothing beside it skips the tests that use
    this fixture, with the reason printed by ``-ra``; where the folder exists they run.
    """
    if not SHARED_EVAL.is_dir():
        pytest.skip("../shared/eval not found: corpus checks skipped")
    return SHARED_EVAL
