"""HTTP API benchmark: messages in (single PUTs, 1,000-record batches) and compose-time check latency.

Against a real ``peerguard web --workers 2`` on a fresh PostgreSQL database and a fresh data
directory (PEERGUARD_ENV=development, no Redis: the doorbell is silent, as for the import):

1. PUT /v1/messages/{id}, one message a request, from ``--clients`` concurrent keep-alive
   connections, messages spread over ``--conversations`` conversations: messages/s.
2. POST /v1/batch with 1,000 message records a request (two requests in flight): messages/s.
3. Baseline, same run: ``peerguard import`` of the same number of message records (JSON lines)
   into another fresh database whose users and conversations were imported first: records/s
   (the whole process, start-up included, as an operator would run it).
4. POST /v1/scan at an offered ``--scan-rate`` requests/s for ``--scan-seconds`` s, open loop:
   each request is due at a fixed time and its latency counts from then, so a slow reply delays
   no later request's clock (no coordinated omission). Clean trade chat and contact attempts
   (bench/stream.py), a third of them with a conversation (and half of those with a sender).

The client is a small HTTP/1.1 keep-alive client on asyncio streams, not httpx, so that the load
generator, which shares the machine's two cores with the server, costs as little as possible.

    .venv/bin/python bench/api_bench.py [--messages 20000] [--clients 16] [--scan-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import stream  # noqa: E402

from tests.scratch_db import scratch_database  # noqa: E402

ADMIN_URL = os.environ.get("PEERGUARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PEERGUARD = str(Path(sys.executable).parent / "peerguard")
SENT_AT = "2026-12-01T10:00:00+00:00"


# --- A minimal keep-alive HTTP/1.1 client ------------------------------------------------------


class Connection:
    """One keep-alive connection; ``request`` sends and reads one whole response."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: object | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        payload = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode()
        self.writer.write(head + payload)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# --- Data ----------------------------------------------------------------------------------------


def world(users: int, conversations: int) -> tuple[list[dict], list[dict]]:
    """Users and conversations (each between a buyer and a seller), as import records."""
    people = [{"type": "user", "id": f"u-{i}", "name": f"User {i}", "email": f"u{i}@example.com"} for i in range(users)]
    rng = random.Random(7)
    chats = []
    for i in range(conversations):
        buyer, seller = rng.sample(range(users), 2)
        chats.append({"type": "conversation", "id": f"c-{i}", "buyer": f"u-{buyer}", "seller": f"u-{seller}",
                      "subject": "1 oz Gold Eagle"})
    return people, chats


def messages(chats: list[dict], count: int, prefix: str, texts: list[str]) -> list[dict]:
    """``count`` message records spread round-robin over the conversations, alternating senders."""
    out = []
    for i in range(count):
        chat = chats[i % len(chats)]
        sender = chat["buyer"] if (i // len(chats)) % 2 == 0 else chat["seller"]
        out.append({"type": "message", "id": f"m-{prefix}-{i}", "conversation": chat["id"], "sender": sender,
                    "sent_at": SENT_AT, "text": texts[i % len(texts)]})
    return out


def chat_texts(count: int) -> list[str]:
    return list(stream.messages(count))


# --- Server and database -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "PEERGUARD_DEBUG")}
    env.update({"DATABASE_URL": database_url, "PEERGUARD_DATA_DIR": str(data_dir),
                "EMAIL_URL": (data_dir / "outbox").as_uri(), "PEERGUARD_ENV": "development"})
    return env


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    log = open(Path(env["PEERGUARD_DATA_DIR"]) / "web.log", "w")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen([PEERGUARD, "web", "--port", str(port), "--workers", str(workers)], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if b" 200 " in probe.recv(100):
                    break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise SystemExit("peerguard web did not start:\n" + (Path(env["PEERGUARD_DATA_DIR"]) / "web.log").read_text())
    time.sleep(1.0)  # every worker process has started (the first answered the health check)
    return process


def server_cpu_seconds(process: subprocess.Popen) -> float:
    """CPU seconds (user + system) used so far by the server and its worker processes (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended meanwhile
        pid, ppid = int(stat.parent.name), int(fields[1])
        if process.pid in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def database_cpu_seconds(database: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving ``database`` (their title names it)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            title = (proc / "cmdline").read_bytes()
            if not title.startswith(b"postgres:") or f" {database} ".encode() not in title:
                continue
            fields = (proc / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def commits(database: str) -> int:
    """Transactions committed so far in ``database`` (pg_stat_database; includes this query's own)."""
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(ADMIN_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_stat_clear_snapshot()"))
            return int(connection.execute(text("SELECT xact_commit FROM pg_stat_database WHERE datname = :d"),
                                          {"d": database}).scalar() or 0)
    finally:
        engine.dispose()


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat: the share of the machine in use."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Meter:
    """CPU of the web processes, this load generator, the database's backends and the whole machine over a phase."""

    def __init__(self, server: subprocess.Popen, database: str) -> None:
        self.server, self.database = server, database
        self.start = self._read()

    def _read(self) -> tuple[float, ...]:
        return (server_cpu_seconds(self.server), time.process_time(), database_cpu_seconds(self.database), *machine_busy(),
                commits(self.database))

    def report(self, count: int, wall: float) -> str:
        end = self._read()
        web, client, db = ((end[i] - self.start[i]) * 1000 / count for i in range(3))
        busy = (end[3] - self.start[3]) / max(1, end[4] - self.start[4])
        transactions = end[5] - self.start[5]
        return (f"CPU a request: web {web:.2f} ms, load generator {client:.2f} ms, PostgreSQL backends {db:.2f} ms; "
                f"machine {busy * 100:.0f}% busy over {wall:.1f} s; {transactions} database transactions ({count / max(1, transactions):.1f} "
                "requests each, pg_stat_database)")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def make_token(env: dict[str, str]) -> str:
    created = subprocess.run([PEERGUARD, "tokens", "create", "--name", "bench", "--scope", "ingest,read,scan"],
                             env=env, capture_output=True, text=True, check=True)
    return created.stdout.strip()


# --- Phases ----------------------------------------------------------------------------------------


async def post_batches(port: int, token: str, records: list[dict], size: int = 1000, parallel: int = 2) -> float:
    """Send records in batches; return the wall time; stop on any failed record."""
    queue = [records[i : i + size] for i in range(0, len(records), size)]

    async def worker() -> None:
        connection = Connection("127.0.0.1", port, token)
        while queue:
            chunk = queue.pop(0)
            status, body = await connection.request("POST", "/v1/batch", {"records": chunk})
            results = json.loads(body)["results"] if status == 200 else None
            if results is None or any(r["status"] == "error" for r in results):
                raise SystemExit(f"batch failed: {status} {body[:500]!r}")
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(parallel)))
    return time.perf_counter() - started


async def put_messages(port: int, token: str, records: list[dict], clients: int) -> float:
    """PUT one message a request from ``clients`` keep-alive connections; return the wall time."""
    pending = iter(records)

    async def worker() -> None:
        connection = Connection("127.0.0.1", port, token)
        for record in pending:
            body = {k: record[k] for k in ("conversation", "sender", "sent_at", "text")}
            status, reply = await connection.request("PUT", f"/v1/messages/{record['id']}", body)
            if status != 201:
                raise SystemExit(f"PUT failed: {status} {reply[:500]!r}")
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - started


def scan_requests(count: int, chats: list[dict]) -> list[dict]:
    """Clean and contact drafts, a third in a conversation (half of those naming the sender)."""
    rng = random.Random(11)
    texts = chat_texts(count)
    bodies = []
    for i, text in enumerate(texts):
        if i % 10 == 0:
            text = stream._contact(rng)  # noqa: SLF001 - the stream's own contact-attempt generator
        body: dict[str, str] = {"text": text}
        if i % 3 == 0:
            chat = rng.choice(chats)
            body["conversation"] = chat["id"]
            if i % 2 == 0:
                body["sender"] = chat["seller"]
        bodies.append(body)
    return bodies


async def open_loop_scan(port: int, token: str, bodies: list[dict], rate: float) -> tuple[list[float], int, float]:
    """Offer ``rate`` requests/s; return latencies (ms, from each request's due time), failures, achieved rate."""
    idle: list[Connection] = [Connection("127.0.0.1", port, token) for _ in range(16)]
    for connection in idle:
        await connection.open()
    latencies: list[float] = []
    failures = 0

    async def one(body: dict, due: float) -> None:
        nonlocal failures
        connection = idle.pop(0) if idle else Connection("127.0.0.1", port, token)
        status = 0
        for _attempt in range(2):  # the server closes a keep-alive connection idle for 5 s: reconnect once
            try:
                status, _ = await connection.request("POST", "/v1/scan", body)
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                connection.close()
        finished = time.perf_counter()
        idle.append(connection)
        if status != 200:
            failures += 1
        latencies.append((finished - due) * 1000)

    loop_start = time.perf_counter() + 0.05
    tasks = []
    for i, body in enumerate(bodies):
        due = loop_start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(body, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - loop_start
    for connection in idle:
        connection.close()
    return latencies, failures, len(bodies) / elapsed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def import_baseline(records_before: list[dict], records: list[dict], work: Path) -> tuple[float, float]:
    """``peerguard import`` into a fresh database: untimed world first, then the timed messages file."""
    with scratch_database(ADMIN_URL, f"peerguard_apibench_import_{os.getpid()}") as url:
        data = work / "import-data"
        data.mkdir()
        env = environment(url, data)
        seed_file, message_file = work / "world.jsonl", work / "messages.jsonl"
        seed_file.write_text("".join(json.dumps(r) + "\n" for r in records_before))
        message_file.write_text("".join(json.dumps(r) + "\n" for r in records))
        subprocess.run([PEERGUARD, "import", "-q", str(seed_file)], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        subprocess.run([PEERGUARD, "import", "-q", str(message_file)], env=env, check=True, capture_output=True)
        whole = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run([PEERGUARD, "--help"], env=env, check=True, capture_output=True)
        startup = time.perf_counter() - started
    return whole, startup


# --- Report --------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"nproc": str(os.cpu_count()), "cpu": model, "load": " ".join(Path("/proc/loadavg").read_text().split()[:3])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages per ingest phase (and for the import)")
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--conversations", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive connections for the PUTs")
    parser.add_argument("--workers", type=int, default=2, help="peerguard web --workers")
    parser.add_argument("--scan-rate", type=float, default=200.0)
    parser.add_argument("--scan-seconds", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--skip-import", action="store_true", help="skip the peerguard import baseline")
    args = parser.parse_args()

    before = machine()
    people, chats = world(args.users, args.conversations)
    texts = chat_texts(args.messages)
    singles = messages(chats, args.messages, "put", texts)
    batched = messages(chats, args.messages, "batch", texts)
    results: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="peerguard-apibench-"))
    try:
        with scratch_database(ADMIN_URL, f"peerguard_apibench_{os.getpid()}") as url:
            data = work / "web-data"
            data.mkdir()
            env = environment(url, data)
            token = make_token(env)
            port = args.port or free_port()
            server = start_server(env, port, args.workers)
            try:
                asyncio.run(post_batches(port, token, people + chats, parallel=1))
                database = url.rsplit("/", 1)[1]
                cpu = server_cpu_seconds(server)
                meter = Meter(server, database)
                seconds = asyncio.run(put_messages(port, token, singles, args.clients))
                results["put_per_s"] = args.messages / seconds
                results["put_cpu_ms"] = (server_cpu_seconds(server) - cpu) * 1000 / args.messages
                print(f"PUT /v1/messages/{{id}}: {args.messages} in {seconds:.2f} s = {results['put_per_s']:.0f} msg/s "
                      f"(web processes' CPU {results['put_cpu_ms']:.1f} ms a PUT)", flush=True)
                print("  " + meter.report(args.messages, seconds), flush=True)
                meter = Meter(server, database)
                seconds = asyncio.run(post_batches(port, token, batched))
                results["batch_per_s"] = args.messages / seconds
                print(f"POST /v1/batch x1000: {args.messages} in {seconds:.2f} s = {results['batch_per_s']:.0f} msg/s", flush=True)
                print("  " + meter.report(args.messages, seconds), flush=True)
                count = int(args.scan_rate * args.scan_seconds)
                meter = Meter(server, database)
                latencies, failures, achieved = asyncio.run(
                    open_loop_scan(port, token, scan_requests(count, chats), args.scan_rate))
                print("  " + meter.report(count, args.scan_seconds), flush=True)
                results.update(scan_p50=percentile(latencies, 50), scan_p90=percentile(latencies, 90),
                               scan_p99=percentile(latencies, 99), scan_max=max(latencies),
                               scan_mean=statistics.fmean(latencies), scan_failures=failures, scan_rate=achieved)
                print(f"POST /v1/scan at {args.scan_rate:.0f}/s offered ({achieved:.0f}/s achieved), {count} requests: "
                      f"p50 {results['scan_p50']:.1f} ms, p99 {results['scan_p99']:.1f} ms, failures {failures}", flush=True)
            finally:
                stop_server(server)
        if not args.skip_import:
            whole, startup = import_baseline(people + chats, batched, work)
            results["import_per_s"] = args.messages / whole
            results["import_startup"] = startup
            print(f"peerguard import: {args.messages} in {whole:.2f} s = {results['import_per_s']:.0f} records/s "
                  f"(process start-up about {startup:.2f} s)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    after = machine()
    print()
    print(f"machine: {before['nproc']} x {before['cpu']}; load average before {before['load']}, after {after['load']}")
    print("| What | Target | Measured | vs peerguard import |")
    print("| --- | --- | --- | --- |")
    base = results.get("import_per_s")
    ratio = (lambda v: f"{v / base:.2f}×") if base else (lambda v: "-")
    print(f"| PUT /v1/messages/{{id}}, {args.clients} clients, --workers {args.workers} | ≥ 500 msg/s | "
          f"{results['put_per_s']:.0f} msg/s | {ratio(results['put_per_s'])} |")
    print(f"| POST /v1/batch, 1,000 records a request | ≥ 5,000 msg/s | {results['batch_per_s']:.0f} msg/s | "
          f"{ratio(results['batch_per_s'])} |")
    if base:
        print(f"| peerguard import (baseline, whole process) | - | {base:.0f} records/s | 1.00× |")
    print(f"| POST /v1/scan, {args.scan_rate:.0f}/s offered for {args.scan_seconds:.0f} s | p99 ≤ 15 ms | "
          f"p50 {results['scan_p50']:.1f} ms, p90 {results['scan_p90']:.1f} ms, p99 {results['scan_p99']:.1f} ms, "
          f"max {results['scan_max']:.1f} ms ({results['scan_failures']:.0f} failed) | - |")


if __name__ == "__main__":
    main()
