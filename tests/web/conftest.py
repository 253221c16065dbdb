"""A real `peerguard web` (uvicorn) on loopback, on the run's PostgreSQL database, and an httpx client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

PEERGUARD = str(Path(sys.executable).parent / "peerguard")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli(env: dict[str, str], *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PEERGUARD, *args], env=env, capture_output=True, text=True, timeout=300, input=input)


@pytest.fixture(scope="module")
def web_env(postgres_url: str, tmp_path_factory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("web-data")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({"DATABASE_URL": postgres_url, "PEERGUARD_DATA_DIR": str(data), "EMAIL_URL": (data / "outbox").as_uri(),
                "PEERGUARD_ENV": "development"})
    yield env
    from tests.conftest import _truncate_all

    _truncate_all(postgres_url)


def start_web(env: dict[str, str], workers: int, log_path: Path, timeout: float = 30):
    """Start `peerguard web --workers N` on a free port; return its base URL, process and open log."""
    port = free_port()
    log = log_path.open("w")
    process = subprocess.Popen([PEERGUARD, "web", "--port", str(port), "--workers", str(workers)], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return base, process, log
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    log.close()
    pytest.fail(f"peerguard web --workers {workers} did not start: " + log_path.read_text())


@pytest.fixture(scope="module")
def server(web_env: dict[str, str]) -> Iterator[str]:
    """The base URL of a running `peerguard web --workers 1`, stopped after the module."""
    base, process, log = start_web(web_env, 1, Path(web_env["PEERGUARD_DATA_DIR"]) / "web.log")
    yield base
    process.terminate()
    process.wait(timeout=20)
    log.close()


def make_token(env: dict[str, str], scopes: str, name: str = "test-client") -> str:
    created = cli(env, "tokens", "create", "--name", name, "--scope", scopes)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


@pytest.fixture(scope="module")
def token(web_env: dict[str, str]) -> str:
    return make_token(web_env, "ingest,read,scan,webhooks")


@pytest.fixture
def client(server: str, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        yield http
