"""Benchmark of the staff console on PostgreSQL: 1,000,000 review items, 20 signed-in sessions.

Creates a database of its own (dropped at the end, even on failure), bulk-loads it with the same
set-based ``generate_series`` SQL as ``bench/review_list_bench.py`` (1,000,000 messages and
review items, 50,000 pending), adds 20 moderators with passwords, starts a real
``peerguard web`` (uvicorn, ``--workers 2``) on loopback, signs the 20 in over HTTP, then:

* **queue and item pages**: 20 threads, one session each, fetch ``/staff/queue`` and a pending
  item's page ``/staff/review/ID`` in turn, all at once, in phases: back to back (``--think 0``,
  20 requests always in flight) and with a pause between a session's requests (``--think 1``);
* **claim next**: 5 of the sessions post ``/staff/queue/claim-next`` at once, repeatedly;
  every claimed id must be distinct (two moderators never get the same item);
* **baseline**: the sign-in form ``GET /staff/sign-in`` (no database) under the same
  20-way concurrency, in the same run: the floor of HTTP, routing and templating here.

Server time is what the app's access log records per request (``LimitsAndAccessLog``: from
the first ASGI byte to the last); client time adds loopback and the client. Usage::

    .venv/bin/python bench/console_bench.py [--items 1000000] [--pending 50000] [--rounds 15] [--claims 20] [--think 0 1]

PEERGUARD_BENCH_POSTGRES overrides the admin URL (default postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import review_list_bench as fixture  # noqa: E402  (the same bulk load, one definition)

from storage import migrations  # noqa: E402
from storage.db import make_engine, make_session_factory, transaction  # noqa: E402
from usecases import staff  # noqa: E402

SESSIONS = 20
CLAIMERS = 5
PASSWORD = "bench password, long enough"
ACCESS = re.compile(r"(GET|POST) (\S+) (\d{3}) ([\d.]+)ms")


def add_moderators(engine, now: datetime) -> list[str]:
    emails = [f"mod{n}@peermetals.com" for n in range(SESSIONS)]
    with transaction(make_session_factory(engine)) as session:
        for email in emails:
            staff.add_account(session, email, "moderator", now, password=PASSWORD)
    return emails


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_web(url: str, data_dir: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {
        "DATABASE_URL": url, "PEERGUARD_DATA_DIR": str(data_dir), "PEERGUARD_ENV": "development",
        "EMAIL_URL": (data_dir / "outbox").as_uri()}
    log = open(log_path, "w")  # noqa: SIM115 - the server writes it until it stops
    process = subprocess.Popen([str(Path(sys.executable).parent / "peerguard"), "web", "--port", str(port), "--workers", "2"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("peerguard web did not start:\n" + log_path.read_text())


def sign_in(base: str, email: str) -> tuple[httpx.Client, str]:
    """A client holding a session cookie, and that session's CSRF token."""
    http = httpx.Client(base_url=base, timeout=60)
    form = http.get("/staff/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    signed = http.post("/staff/sign-in", data={"csrf_token": token, "email": email, "password": PASSWORD, "next": "/staff/queue"})
    assert signed.status_code == 303, signed.text
    queue = http.get("/staff/queue")
    return http, re.search(r'name="csrf_token" value="([^"]+)"', queue.text).group(1)


def all_at_once(workers: int, work) -> None:
    """Run ``work(i)`` in ``workers`` threads released together."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def pages(clients, item_ids: list[int], rounds: int, think: float) -> dict[str, list[float]]:
    """Client milliseconds per page kind; every session fetches the queue, then an item, ``rounds`` times.

    ``think`` is the mean pause between a session's requests (uniform between half and one and a
    half times it); 0 keeps all 20 sessions' requests in flight at once, the worst case.
    """
    timings: dict[str, list[float]] = {"queue": [], "item": [], "sign-in form": []}
    lock = threading.Lock()

    def fetch(http: httpx.Client, kind: str, path: str) -> None:
        started = time.perf_counter()
        answer = http.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        with lock:
            timings[kind].append(elapsed)

    def session_work(i: int) -> None:
        http, pause = clients[i][0], random.Random(i)
        for r in range(rounds):
            for kind, path in (("queue", "/staff/queue"), ("item", f"/staff/review/{item_ids[(i * rounds + r) % len(item_ids)]}"),
                               ("sign-in form", "/staff/sign-in")):
                if think:
                    time.sleep(pause.uniform(0.5 * think, 1.5 * think))
                fetch(http, kind, path)

    all_at_once(len(clients), session_work)
    return timings


def claims(clients, rounds: int) -> tuple[list[float], list[int]]:
    """Client milliseconds of claim-next by ``CLAIMERS`` sessions at once, and the ids they got."""
    timings: list[float] = []
    got: list[int] = []
    lock = threading.Lock()

    def claimer(i: int) -> None:
        http, csrf = clients[i]
        for _ in range(rounds):
            started = time.perf_counter()
            answer = http.post("/staff/queue/claim-next", data={"csrf_token": csrf})
            elapsed = (time.perf_counter() - started) * 1000
            assert answer.status_code == 303 and "/staff/review/" in answer.headers["location"], answer.text[:300]
            with lock:
                timings.append(elapsed)
                got.append(int(answer.headers["location"].rsplit("/", 1)[1]))

    all_at_once(CLAIMERS, claimer)
    return timings, got


def server_times(log_text: str) -> dict[str, list[float]]:
    """Server milliseconds per page kind, from the access log."""
    kinds: dict[str, list[float]] = {"queue": [], "item": [], "claim-next": [], "sign-in form": []}
    for method, path, status, ms in ACCESS.findall(log_text):
        if method == "GET" and path == "/staff/queue" and status == "200":
            kinds["queue"].append(float(ms))
        elif method == "GET" and re.fullmatch(r"/staff/review/\d+", path) and status == "200":
            kinds["item"].append(float(ms))
        elif method == "POST" and path == "/staff/queue/claim-next":
            kinds["claim-next"].append(float(ms))
        elif method == "GET" and path == "/staff/sign-in":
            kinds["sign-in form"].append(float(ms))
    return kinds


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):7.1f} ms, p95 {p95(values):7.1f} ms, max {max(values):7.1f} ms (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=15, help="queue+item+baseline fetches per session")
    parser.add_argument("--claims", type=int, default=20, help="claim-next posts per claiming session")
    parser.add_argument("--think", type=float, nargs="+", default=[0.0, 1.0],
                        help="mean seconds between a session's requests, one phase each (0: back to back)")
    args = parser.parse_args()
    now = datetime.now(timezone.utc)
    name, url = fixture.create_database()
    process = None
    try:
        migrations.upgrade(url)
        engine = make_engine(url)
        seconds = fixture.load(engine, args.items, args.pending, now)
        add_moderators(engine, now)
        with engine.connect() as conn:
            version = conn.scalar(text("SHOW server_version"))
            counts = conn.execute(text("SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM review_items")).one()
            item_ids = list(conn.scalars(text("SELECT id FROM review_items WHERE status = 'pending' ORDER BY random() LIMIT 500")))
        engine.dispose()
        with tempfile.TemporaryDirectory(prefix="console-bench-") as folder:
            log_path = Path(folder) / "web.log"
            process, base = start_web(url, Path(folder), log_path)
            clients = [sign_in(base, f"mod{n}@peermetals.com") for n in range(SESSIONS)]
            phases = []
            for think in args.think:
                load_before, mark = os.getloadavg()[0], len(log_path.read_text())
                client_pages = pages(clients, item_ids, args.rounds, think)
                time.sleep(0.5)  # the last access-log lines
                phases.append((think, load_before, os.getloadavg()[0], client_pages, server_times(log_path.read_text()[mark:])))
            mark = len(log_path.read_text())
            client_claims, claimed = claims(clients, args.claims)
            time.sleep(0.5)
            claim_server = server_times(log_path.read_text()[mark:])["claim-next"]
            for http, _ in clients:
                http.close()
        report(args, seconds, version, counts, phases, client_claims, claimed, claim_server)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        fixture.drop_database(name)


def report(args, seconds, version, counts, phases, client_claims, claimed, claim_server) -> None:
    print(f"machine: {fixture.machine()}, PostgreSQL {version}")
    print(f"data: {counts[0]:,} review items, {counts[1]:,} pending, loaded in {seconds:.1f} s; "
          f"{SESSIONS} sessions x {args.rounds} rounds of (queue, item, sign-in form); {CLAIMERS} claimers x {args.claims}")
    for think, load_before, load_after, client_pages, server in phases:
        print(f"\n-- {SESSIONS} sessions, think time {think:g} s; load average {load_before:.1f} before, {load_after:.1f} after")
        for kind in ("queue", "item", "sign-in form"):
            print(f"server {kind:<13} {summary(server[kind])}")
            print(f"client {kind:<13} {summary(client_pages[kind])}")
        floor = p95(server["sign-in form"])
        print(f"ratio of p95 server times to the sign-in form's: queue {p95(server['queue']) / floor:.1f}x, "
              f"item {p95(server['item']) / floor:.1f}x")
        print(f"targets (p95 < 100 ms): queue {p95(server['queue']) < 100}, item {p95(server['item']) < 100}")
    print(f"\n-- {CLAIMERS} moderators claiming next at once; load average {os.getloadavg()[0]:.1f} after")
    print(f"server claim-next   {summary(claim_server)}")
    print(f"client claim-next   {summary(client_claims)}")
    distinct = len(set(claimed)) == len(claimed)
    print(f"claim-next: {len(claimed)} claims, {'all distinct' if distinct else 'DUPLICATES'}; target p95 < 50 ms: {p95(claim_server) < 50}")
    if not distinct:
        raise SystemExit("two moderators got the same item")


if __name__ == "__main__":
    main()
