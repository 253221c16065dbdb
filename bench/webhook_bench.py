"""Webhook delivery: events recorded in PostgreSQL delivered to a local receiver, signed, in order per user.

Usage: .venv/bin/python bench/webhook_bench.py [--events 5000] [--users 500] [--rounds 3]

The receiver is uvicorn serving a minimal ASGI app on loopback (it answers 204 and counts). Each
round records the events afresh (outside the timing), then times ``usecases.webhooks.deliver_due``
until every delivery is delivered. The baseline, in the same run, is the obvious loop: one event
at a time, a new connection per POST, the same signing and bookkeeping per event.
Creates and drops its own PostgreSQL database (peerguard_bench_webhooks).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from standardwebhooks.webhooks import Webhook  # noqa: E402

from storage.db import transaction  # noqa: E402
from storage.webhooks import claim_due, mark_delivered  # noqa: E402
from tests.scratch_db import scratch_database  # noqa: E402
from usecases import webhooks  # noqa: E402
from usecases.app import App  # noqa: E402
from usecases.settings import Settings  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RECEIVER = '''
count = 0
async def app(scope, receive, send):
    global count
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    count += 1
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
'''


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_receiver(folder: Path) -> tuple[subprocess.Popen, str]:
    (folder / "receiver.py").write_text(RECEIVER)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "receiver:app", "--port", str(port), "--log-level", "warning",
                                "--no-access-log"], cwd=folder)
    url = f"http://127.0.0.1:{port}/hooks"
    for _ in range(100):
        try:
            httpx.post(url, content=b"{}")
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the receiver did not start")


def record(app: App, events: int, users: int) -> None:
    now = datetime.now(UTC)
    with transaction(app.session_factory) as session:
        webhooks.record_many(session, [("message.flagged", f"u-{i % users}", {"user": f"u-{i % users}", "message": f"m-{i}"})
                                       for i in range(events)], now)


def timed_delivery(app: App) -> tuple[float, dict]:
    started = time.perf_counter()
    counts = webhooks.deliver_due(app, datetime.now(UTC))
    return time.perf_counter() - started, counts


def timed_baseline(app: App) -> tuple[float, int]:
    """One at a time, a new connection per POST: claim one, sign, post, mark."""
    started, sent = time.perf_counter(), 0
    while True:
        now = datetime.now(UTC)
        with transaction(app.session_factory) as session:
            claimed = claim_due(session, now, now, webhooks.LEASE, 1)
        if not claimed:
            return time.perf_counter() - started, sent
        delivery = claimed[0]
        body = json.dumps(delivery.body, separators=(",", ":"))
        headers = {"webhook-id": delivery.event_id, "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(delivery.secret).sign(delivery.event_id, now, body)}
        status = httpx.post(delivery.url, content=body, headers=headers).status_code
        with transaction(app.session_factory) as session:
            mark_delivered(session, [delivery.id], [status], now)
        sent += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--baseline-events", type=int, default=1000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, scratch_database(ADMIN_URL, "peerguard_bench_webhooks") as url:
        receiver, hook_url = start_receiver(Path(folder))
        settings = Settings.from_environment({"DATABASE_URL": url, "PEERGUARD_DATA_DIR": folder})
        app = App.from_settings(settings)
        try:
            webhooks.add_endpoint(app, hook_url, ["*"], datetime.now(UTC))
            ours, base = [], []
            for _ in range(args.rounds):
                record(app, args.events, args.users)
                seconds, counts = timed_delivery(app)
                assert counts == {"delivered": args.events}, counts
                ours.append(args.events / seconds)
                record(app, args.baseline_events, args.users)
                seconds, sent = timed_baseline(app)
                assert sent == args.baseline_events
                base.append(sent / seconds)
            print(f"PeerGuard deliver_due: {[round(x) for x in ours]} events/s (median {statistics.median(ours):.0f})")
            print(f"baseline, one by one:  {[round(x) for x in base]} events/s (median {statistics.median(base):.0f})")
            print(f"ratio (median): {statistics.median(ours) / statistics.median(base):.2f}x")
        finally:
            app.dispose()
            receiver.terminate()


if __name__ == "__main__":
    main()
