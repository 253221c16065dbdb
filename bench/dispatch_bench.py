"""Dispatch throughput: outbox → SMTP (aiosmtpd in its own process on loopback), reused vs new connections.

Usage: .venv/bin/python bench/dispatch_bench.py [--emails 3000] [--rounds 3]
Creates and drops its own PostgreSQL database (peerguard_bench_outbox_dispatch).

``--worker-command``: instead, the real command, ``peerguard worker --mail-processes N`` (default
N=2, with its default worker processes; Redis db from PEERGUARD_BENCH_REDIS, default 6), delivers
a backlog of --emails to an aiosmtpd sink in its own process that records when each message
arrived; the rate is what the sink received per second, first to last message, and also from the
command's start (its start-up included). The same run measures --mail-processes 1 as the baseline.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from pipeline.notices import MailIdentity  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.mail import SmtpBatch, SmtpTransport, transport_from_url  # noqa: E402
from storage.models import OutboxEmail  # noqa: E402
from storage.outbox import ClaimedEmail, NoticeRequest, enqueue_notices  # noqa: E402
from tests.scratch_db import scratch_database  # noqa: E402
from usecases.app import App  # noqa: E402
from usecases.notices import _message, deliver_outbox  # noqa: E402
from usecases.settings import Settings  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB_NAME = "peerguard_bench_outbox_dispatch"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class ConnectionPerEmail:
    """The naive baseline: a fresh SMTP connection (connect, EHLO, QUIT) for every email."""

    def __init__(self, transport: SmtpTransport) -> None:
        self.config = transport.config

    @contextmanager
    def batch(self) -> Iterator[ConnectionPerEmail]:
        yield self

    def send(self, message: EmailMessage) -> str:
        batch = SmtpBatch(self.config)
        try:
            return batch.send(message)
        finally:
            batch.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def smtp_server() -> Iterator[int]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield port
    finally:
        server.terminate()
        server.wait()


def bench_database():
    """This benchmark's own database, fresh and migrated, dropped afterwards."""
    return scratch_database(ADMIN_URL, DB_NAME)


def fill_outbox(context: App, count: int, label: str) -> None:
    context_json = {"item_id": 1, "kind": "payment", "sender_email": "s@example.com", "excerpt": "pay to IBAN …", "review_url": "https://peermetals.com/review/1"}
    with transaction(context.session_factory) as session:
        session.execute(text("TRUNCATE email_outbox"))
        for start in range(0, count, 1000):
            enqueue_notices(session, [
                NoticeRequest("flag-alert", f"staff{n}@example.com", f"Staff {n}", context_json, f"{label}:{n}")
                for n in range(start, min(count, start + 1000))
            ], NOW)


def timed_delivery(context: App, count: int, label: str, transport, workers: int) -> float:
    fill_outbox(context, count, label)
    started = time.perf_counter()
    counts = deliver_outbox(context, NOW, transport=transport, workers=workers)
    elapsed = time.perf_counter() - started
    assert counts.get("sent") == count, counts
    with context.session_factory() as session:
        assert session.query(OutboxEmail).filter(OutboxEmail.status == "sent").count() == count
    return count / elapsed


def timed_processes(context: App, url: str, port: int, count: int, label: str, processes: int, workers: int) -> float:
    """Like ``peerguard worker --mail-processes N``: N forked processes deliver one backlog."""
    import multiprocessing

    fill_outbox(context, count, label)
    context.engine.dispose()  # the children open their own connections
    ready = multiprocessing.get_context("fork").Barrier(processes + 1)

    def child() -> None:
        settings = Settings.from_environment({"DATABASE_URL": url, "EMAIL_URL": f"smtp://127.0.0.1:{port}", "PEERGUARD_DATA_DIR": "/tmp/peerguard-bench"})
        own = App.from_settings(settings)
        ready.wait()
        deliver_outbox(own, NOW, workers=workers)
        own.dispose()

    children = [multiprocessing.get_context("fork").Process(target=child) for _ in range(processes)]
    for process in children:
        process.start()
    ready.wait()
    started = time.perf_counter()
    for process in children:
        process.join()
    elapsed = time.perf_counter() - started
    assert all(process.exitcode == 0 for process in children)
    with context.session_factory() as session:
        assert session.query(OutboxEmail).filter(OutboxEmail.status == "sent").count() == count
    return count / elapsed


def smtp_ceiling(transport: SmtpTransport, count: int, threads: int) -> float:
    """The same messages straight to the server, no database: what the server alone allows."""
    identity = MailIdentity("no-reply@peermetals.com", "PeerMetals", "peermetals.com", "development-only:peermetals.com")
    context_json = {"item_id": 1, "kind": "payment", "sender_email": "s@example.com", "excerpt": "pay to IBAN …", "review_url": "https://peermetals.com/review/1"}
    email = ClaimedEmail(1, "flag-alert", "staff@example.com", "Staff", context_json, "ceiling", 0, "t")
    message = _message(email, identity, NOW)

    def send_many() -> None:
        with transport.batch() as batch:
            for _ in range(count // threads):
                batch.send(message)

    workers = [threading.Thread(target=send_many) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (count // threads) * threads / (time.perf_counter() - started)


SINK = """
import asyncio, signal, sys, time
from aiosmtpd.controller import Controller
times = []
class Counting:
    async def handle_DATA(self, server, session, envelope):
        times.append(time.time())
        return "250 2.0.0 Ok"
controller = Controller(Counting(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
signal.sigwait([signal.SIGTERM])
controller.stop()
open(sys.argv[2], "w").write("\\n".join(repr(t) for t in times))
"""


def worker_command_rate(context: App, url: str, count: int, mail_processes: int, label: str) -> dict[str, float]:
    """Delivery through `peerguard worker --mail-processes N`, counted by what the sink receives."""
    import os
    import signal
    import tempfile

    fill_outbox(context, count, label)
    context.engine.dispose()
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        arrivals = Path(folder) / "arrivals"
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])  # the sink inherits the mask and waits for it
        try:
            sink = subprocess.Popen([sys.executable, "-c", SINK, str(port), str(arrivals)])
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        env = {**os.environ, "DATABASE_URL": url, "EMAIL_URL": f"smtp://127.0.0.1:{port}",
               "REDIS_URL": os.environ.get("PEERGUARD_BENCH_REDIS", "redis://127.0.0.1:6379/6"),
               "PEERGUARD_DATA_DIR": folder, "PEERGUARD_SECRET_KEY": "dispatch-bench"}
        started = time.time()
        worker = subprocess.Popen([str(Path(sys.executable).parent / "peerguard"), "worker", "--mail-processes",
                                   str(mail_processes)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            deadline = time.monotonic() + 600
            while True:
                with context.session_factory() as session:
                    sent = session.query(OutboxEmail).filter(OutboxEmail.status == "sent").count()
                if sent >= count or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
            sink.send_signal(signal.SIGTERM)
            sink.wait(30)
        times = sorted(float(line) for line in arrivals.read_text().split() if line)
    assert len(times) == count, (len(times), count)
    return {"sink_rate": (count - 1) / (times[-1] - times[0]), "from_start_rate": count / (times[-1] - started)}


def window_main(args) -> None:
    """How wide is the window in which a crash leaves an "outcome unknown" the server never got?

    Between the start mark's commit (inside the ``begin_send`` round trip) and the terminator's
    send. Each dispatch thread's timings are taken around ``DeliveryLog.begin_send`` and the
    terminator's ``send``; a kill -9 at a random moment catches a thread in that window with
    probability window / (time per email per thread).
    """
    import os
    import threading

    from storage import mail as mail_module
    from storage import outbox as outbox_module

    local = threading.local()
    samples: list[tuple[float, float, float]] = []
    lock = threading.Lock()
    original_begin, original_send = outbox_module.DeliveryLog.begin_send, mail_module._SMTP.send

    def begin_send(self, email, lease_now):  # type: ignore[no-untyped-def]
        entered = time.perf_counter()
        result = original_begin(self, email, lease_now)
        local.marked = (entered, time.perf_counter())
        return result

    def send(self, data):  # type: ignore[no-untyped-def]
        result = original_send(self, data)
        if data == b".\r\n" and getattr(local, "marked", None):
            with lock:
                samples.append((*local.marked, time.perf_counter()))
            local.marked = None
        return result

    outbox_module.DeliveryLog.begin_send, mail_module._SMTP.send = begin_send, send
    with bench_database() as url, smtp_server() as port:
        settings = Settings.from_environment({"DATABASE_URL": url, "EMAIL_URL": f"smtp://127.0.0.1:{port}",
                                              "PEERGUARD_DATA_DIR": "/tmp/peerguard-bench"})
        context = App.from_settings(settings)
        transport = transport_from_url(settings.email_url)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        for round_ in range(args.rounds):
            samples.clear()
            fill_outbox(context, args.emails, f"window-{round_}")
            started = time.perf_counter()
            counts = deliver_outbox(context, NOW, transport=transport, workers=args.workers)
            elapsed = time.perf_counter() - started
            assert counts.get("sent") == args.emails and len(samples) == args.emails, (counts, len(samples))
            cycle = elapsed * args.workers / args.emails
            whole = statistics.mean(t - e for e, _, t in samples)
            after = statistics.mean(t - x for _, x, t in samples)
            p99 = sorted(t - e for e, _, t in samples)[int(len(samples) * 0.99)]
            print(f"round {round_ + 1}: {args.emails / elapsed:.0f} emails/s, {cycle * 1000:.2f} ms per email per thread; "
                  f"mark sent -> terminator out mean {whole * 1000:.3f} ms (p99 {p99 * 1000:.3f}), mark's reply -> "
                  f"terminator out mean {after * 1000:.3f} ms; a kill catches a thread in the window with p = "
                  f"{after / cycle:.3f}..{whole / cycle:.3f}; load {os.getloadavg()[0]:.1f}", flush=True)
        context.dispose()


def worker_command_main(args) -> None:
    import os

    with bench_database() as url:
        settings = Settings.from_environment({"DATABASE_URL": url, "PEERGUARD_DATA_DIR": "/tmp/peerguard-bench"})
        context = App.from_settings(settings)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.emails} emails per run", flush=True)
        results: dict[int, list[dict[str, float]]] = {1: [], args.mail_processes: []}
        forked: list[float] = []
        for round_ in range(args.rounds):
            for n in results:
                results[n].append(worker_command_rate(context, url, args.emails, n, f"w{n}-{round_}"))
                print(f"round {round_ + 1}: --mail-processes {n}: {results[n][-1]['sink_rate']:.0f} emails/s at the sink "
                      f"({results[n][-1]['from_start_rate']:.0f} from the command's start), "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
            # The figure the README used to quote: the delivery function forked twice by this script.
            with smtp_server() as port:
                forked.append(timed_processes(context, url, port, args.emails, f"f-{round_}", args.mail_processes,
                                              args.workers))
            print(f"round {round_ + 1}: {args.mail_processes} forked delivery functions (no command): {forked[-1]:.0f} "
                  f"emails/s, load {os.getloadavg()[0]:.1f}", flush=True)
        context.dispose()
    print(f"{args.mail_processes} forked delivery functions, same run: median {statistics.median(forked):.0f} emails/s")
    medians = {n: statistics.median(r["sink_rate"] for r in rs) for n, rs in results.items()}
    for n, rs in results.items():
        print(f"peerguard worker --mail-processes {n}: median {medians[n]:.0f} emails/s at the sink "
              f"(range {min(r['sink_rate'] for r in rs):.0f}-{max(r['sink_rate'] for r in rs):.0f}; from the command's "
              f"start median {statistics.median(r['from_start_rate'] for r in rs):.0f})")
    print(f"ratio --mail-processes {args.mail_processes} / 1: {medians[args.mail_processes] / medians[1]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=3000)
    parser.add_argument("--baseline-emails", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="dispatch threads for the parallel runs")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the median is reported")
    parser.add_argument("--worker-command", action="store_true",
                        help="measure `peerguard worker --mail-processes N` itself (see the module docstring)")
    parser.add_argument("--mail-processes", type=int, default=2)
    parser.add_argument("--window", action="store_true",
                        help="measure the crash window that makes an 'outcome unknown' the server never got")
    args = parser.parse_args()
    if args.worker_command:
        worker_command_main(args)
        return
    if args.window:
        window_main(args)
        return
    with bench_database() as url, smtp_server() as port:
        settings = Settings.from_environment({"DATABASE_URL": url, "EMAIL_URL": f"smtp://127.0.0.1:{port}", "PEERGUARD_DATA_DIR": "/tmp/peerguard-bench"})
        context = App.from_settings(settings)
        reused = transport_from_url(settings.email_url)
        naive = ConnectionPerEmail(reused)
        timed_delivery(context, 200, "warmup", reused, 1)
        runs = {
            "reused connection, 1 dispatcher": (args.emails, lambda r: timed_delivery(context, args.emails, f"r1-{r}", reused, 1)),
            f"reused connections, {args.workers} dispatchers": (args.emails, lambda r: timed_delivery(context, args.emails, f"rn-{r}", reused, args.workers)),
            f"2 processes x {args.workers} dispatchers (worker --mail-processes 2)": (
                args.emails, lambda r: timed_processes(context, url, port, args.emails, f"p2-{r}", 2, args.workers)),
            "connection per email, 1 dispatcher": (args.baseline_emails, lambda r: timed_delivery(context, args.baseline_emails, f"n1-{r}", naive, 1)),
            f"connection per email, {args.workers} dispatchers": (args.baseline_emails, lambda r: timed_delivery(context, args.baseline_emails, f"nn-{r}", naive, args.workers)),
            "SMTP only, no database, 1 connection": (args.emails, lambda r: smtp_ceiling(reused, args.emails, 1)),
            f"SMTP only, no database, {args.workers} connections": (args.emails, lambda r: smtp_ceiling(reused, args.emails, args.workers)),
        }
        rates: dict[str, list[float]] = {label: [] for label in runs}
        for round_ in range(args.rounds):  # interleaved, so a noisy minute hits every row alike
            for label, (_, run) in runs.items():
                rates[label].append(run(round_))
            print(f"round {round_ + 1}/{args.rounds}: " + ", ".join(f"{r[-1]:.0f}" for r in rates.values()), file=sys.stderr)
        context.dispose()
    medians = {label: statistics.median(values) for label, values in rates.items()}
    for label, (count, _) in runs.items():
        values = rates[label]
        print(f"{label:<44} {medians[label]:8.1f} emails/s median, {min(values):.1f}-{max(values):.1f} over {len(values)} rounds ({count} emails each)")
    one, many = "reused connection, 1 dispatcher", f"reused connections, {args.workers} dispatchers"
    print(f"ratio reused / per-email connection, 1 dispatcher:  {medians[one] / medians['connection per email, 1 dispatcher']:.2f}x")
    print(f"ratio reused / per-email connection, {args.workers} dispatchers: "
          f"{medians[many] / medians[f'connection per email, {args.workers} dispatchers']:.2f}x")
    print(f"ratio 2 mail processes / 1 process, {args.workers} dispatchers each: "
          f"{medians[f'2 processes x {args.workers} dispatchers (worker --mail-processes 2)'] / medians[many]:.2f}x")


if __name__ == "__main__":
    main()
