"""`run --once` stage benchmark on PostgreSQL: import, scan stage and response sync, in one process.

Generates a marketplace of ``--conversations`` conversations with ``--messages`` messages in all
(buyers ask, sellers answer; texts from bench/stream.py, about 4% contact attempts), writes it as
interchange JSON lines, then on a fresh PostgreSQL database:

1. imports the file with the importer ``peerguard import`` uses (records/s and messages/s);
2. runs the scan stage (``scan_pending``): messages/s;
3. runs the response sync (``sync_new_messages``): messages/s.

``--reference`` also runs the import with the row-at-a-time path (one savepoint a record) in the
same run. ``--baseline-code DIR`` then runs the import and the response sync with another
checkout's code (e.g. a worktree of the commit before this work) in a child process on the same
corpus, skipping the scan stage (unchanged). The doorbell is silent (no broker), as for ``run --once``.

    .venv/bin/python bench/run_once_bench.py [--messages 20000] [--conversations 2000] [--reference]
        [--baseline-code /path/to/older/checkout] [--order grouped|by-conversation|by-conversation-with-users] [--reads 0.3] [--reads-last]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or str(ROOT))

import stream  # noqa: E402

from tests.scratch_db import scratch_database  # noqa: E402

ADMIN_URL = os.environ.get("PEERGUARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def corpus(messages: int, conversations: int, seed: int = 17, order: str = "grouped", reads: float = 0.0,
           reads_last: bool = False) -> list[dict]:
    """Users, then conversations, then messages in time order (buyers and sellers take turns, mostly).

    ``order="by-conversation"``: the same records as an export by conversation gives them, each
    conversation's line followed by its messages; ``"by-conversation-with-users"``: each
    conversation's buyer's and seller's lines (repeated for each of their conversations), its line
    and its messages. ``reads``: the share of messages followed by the
    recipient's read receipt a few minutes later (none by default: the seeded corpus stays as it was);
    ``reads_last``: in the by-conversation orders, each conversation's receipts after all its
    messages, as a dump lists last-read marks (most then stop inside the other side's streak).
    """
    rng = random.Random(seed)
    people = max(4, conversations // 2)
    records: list[dict] = [{"type": "user", "id": f"u-{i}", "name": f"Trader {i}", "email": f"trader{i}@example.com"}
                           for i in range(people)]
    pairs = []
    for c in range(conversations):
        buyer, seller = rng.sample(range(people), 2)
        pairs.append((f"u-{buyer}", f"u-{seller}"))
        records.append({"type": "conversation", "id": f"c-{c}", "buyer": f"u-{buyer}", "seller": f"u-{seller}",
                        "subject": f"Lot {c}"})
    texts = stream.messages(messages, seed)
    clock = [START] * conversations
    reader = random.Random(seed + 1)  # its own draws: the messages are the same with or without receipts
    for m, text in enumerate(texts):
        c = m % conversations
        clock[c] += timedelta(minutes=rng.randint(1, 600))
        buyer, seller = pairs[c]
        sender = buyer if rng.random() < 0.55 else seller
        records.append({"type": "message", "id": f"m-{m}", "conversation": f"c-{c}", "sender": sender,
                        "sent_at": clock[c].isoformat(), "text": text})
        if reads and reader.random() < reads:
            records.append({"type": "read", "conversation": f"c-{c}", "user": seller if sender == buyer else buyer,
                            "at": (clock[c] + timedelta(minutes=reader.randint(1, 30))).isoformat()})
    talk: dict[str, list[dict]] = {}
    for r in records:
        if r["type"] in ("message", "read"):
            talk.setdefault(r["conversation"], []).append(r)
    if reads_last:
        talk = {c: sorted(rs, key=lambda r: r["type"] == "read") for c, rs in talk.items()}
    if order == "by-conversation":
        records = ([r for r in records if r["type"] == "user"]
                   + [x for r in records if r["type"] == "conversation" for x in [r, *talk.get(r["id"], [])]])
    elif order == "by-conversation-with-users":
        people = {r["id"]: r for r in records if r["type"] == "user"}
        records = [x for r in records if r["type"] == "conversation"
                   for x in [people[r["buyer"]], people[r["seller"]], r, *talk.get(r["id"], [])]]
    return records


def scannable_messages(count: int) -> list:
    """The corpus's ``count`` messages (in ``count // 10`` conversations) as the scan stage reads them
    (``storage.scanning.ScannableMessage``, row ids 1…count, conversation ids from their external ids):
    what bench/stage_loop.py, pool_loop.py and stage_breakdown.py feed detection without a database."""
    from storage.scanning import ScannableMessage

    records = corpus(count, count // 10)
    parties = {r["id"]: (r["buyer"], r["seller"]) for r in records if r["type"] == "conversation"}
    messages = []
    for r in records:
        if r["type"] == "message":
            role = "buyer" if parties[r["conversation"]][0] == r["sender"] else "seller"
            messages.append(ScannableMessage(len(messages) + 1, int(r["conversation"][2:]), role, r["text"],
                                             datetime.fromisoformat(r["sent_at"])))
    return messages


def stage_batches(messages: list, size: int = 200, before: int = 12):
    """``(batch, context)`` in load order as the scan stage reads them: ``size`` messages a batch,
    each conversation's ``before`` earlier messages then its messages of the batch (what
    ``conversation_context`` returns). A generator: each batch's context is made when it is asked for."""
    from collections import defaultdict

    history: defaultdict[int, list] = defaultdict(list)
    for start in range(0, len(messages), size):
        batch = messages[start : start + size]
        context: dict[int, list] = {}
        for m in batch:
            if m.conversation_id not in context:
                context[m.conversation_id] = history[m.conversation_id][-before:]
            context[m.conversation_id] = context[m.conversation_id] + [m]
        for m in batch:
            history[m.conversation_id].append(m)
        yield batch, context


def run(url: str, lines: Path, data_dir: Path, reference: bool, scan: bool = True) -> dict[str, float]:
    from actors.app import set_current_app
    from usecases import responses, scanning
    from usecases.app import App, SilentDoorbell
    from usecases.importing import InterchangeImporter
    from usecases.settings import Settings

    settings = Settings.from_environment({"DATABASE_URL": url, "PEERGUARD_DATA_DIR": str(data_dir),
                                          "EMAIL_URL": (data_dir / "outbox").as_uri(),
                                          # `run --once`'s detection processes, as the command reads them
                                          "PEERGUARD_SCAN_PROCESSES": os.environ.get("PEERGUARD_SCAN_PROCESSES", "auto")})
    app = App.from_settings(settings, SilentDoorbell())
    set_current_app(app)
    now = START + timedelta(days=60)
    options = {"bulk": not reference} if "bulk" in inspect.signature(InterchangeImporter).parameters else {}
    importer = InterchangeImporter(app.session_factory, app.blobs, lines.parent, clock=lambda: now, **options)
    figures: dict[str, float] = {}
    started, cpu, server = time.perf_counter(), time.process_time(), server_cpu(app)
    with lines.open("rb") as stream_in:
        outcomes = list(importer.import_lines(stream_in))
    figures["import_s"] = time.perf_counter() - started
    figures["import_cpu"], figures["import_pg"] = time.process_time() - cpu, server_cpu(app) - server
    figures["records"] = len(outcomes)
    figures["errors"] = sum(o.status == "error" for o in outcomes)
    started, cpu, server, children = time.perf_counter(), time.process_time(), server_cpu(app), _children_cpu()
    figures["scanned"] = scanning.scan_pending(app, now)["messages"] if scan else 0
    figures["scan_s"] = time.perf_counter() - started
    figures["scan_cpu"], figures["scan_pg"] = time.process_time() - cpu, server_cpu(app) - server
    figures["scan_children"] = _children_cpu() - children
    started, cpu, server = time.perf_counter(), time.process_time(), server_cpu(app)
    figures["synced"] = responses.sync_new_messages(app, now)["messages"]
    figures["sync_s"] = time.perf_counter() - started
    figures["sync_cpu"], figures["sync_pg"] = time.process_time() - cpu, server_cpu(app) - server
    set_current_app(None)
    app.dispose()
    return figures


def _children_cpu() -> float:
    """CPU seconds of this process's waited-for children (the scan stage's detection processes)."""
    times = os.times()
    return times.children_user + times.children_system


def server_cpu(app) -> float:
    """CPU seconds (user + system, from /proc) of the PostgreSQL backends serving this database now.

    Read before and after a stage: the benchmark's pooled connections stay open between the two,
    so the difference is what the server spent on the stage (other engineers' databases are not counted).
    """
    from sqlalchemy import text

    with app.session_factory() as session:
        pids = session.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars().all()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # not on this machine, or gone
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def report(name: str, f: dict[str, float], messages: int) -> None:
    scan = f" scan {f['scanned']:.0f} in {f['scan_s']:.2f} s = {f['scanned'] / f['scan_s']:,.0f} msg/s;" if f["scanned"] else ""
    sync = (f" response sync {f['synced']:.0f} in {f['sync_s']:.2f} s = {f['synced'] / f['sync_s']:,.0f} msg/s"
            if f["synced"] else "")
    cpu = f" CPU: import {f['import_cpu']:.2f} s here + {f['import_pg']:.2f} s PostgreSQL"
    if f["scanned"]:
        cpu += (f", scan {f['scan_cpu']:.2f} s + {f['scan_pg']:.2f} s"
                + (f" + {f['scan_children']:.2f} s detection processes" if f["scan_children"] else ""))
    if f["synced"]:
        cpu += f", sync {f['sync_cpu']:.2f} s + {f['sync_pg']:.2f} s"
    print(f"{name:<9} import {f['records']:.0f} records ({f['errors']:.0f} errors) in {f['import_s']:.2f} s"
          f" = {f['records'] / f['import_s']:,.0f} records/s, {messages / f['import_s']:,.0f} messages/s;{scan}{sync};"
          f"{cpu}; load average {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--reference", action="store_true", help="also run the row-at-a-time import (no scan, no sync)")
    parser.add_argument("--baseline-code", type=Path, help="also run import and sync with this checkout's code")
    parser.add_argument("--order", choices=("grouped", "by-conversation", "by-conversation-with-users"),
                        default="grouped",
                        help="grouped: all users, conversations, then messages; by-conversation: each conversation's"
                             " line followed by its messages; by-conversation-with-users: its participants' lines too")
    parser.add_argument("--reads", type=float, default=0.0,
                        help="share of messages followed by the recipient's read receipt (default 0)")
    parser.add_argument("--reads-last", action="store_true",
                        help="by-conversation orders: each conversation's receipts after all its messages")
    parser.add_argument("--skip-scan", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--name", default="bulk", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "market.jsonl"
        lines.write_text("".join(json.dumps(r) + "\n" for r in corpus(args.messages, args.conversations,
                                                                                  order=args.order, reads=args.reads,
                                                                                  reads_last=args.reads_last)))
        with scratch_database(ADMIN_URL, f"pg_bench_{uuid.uuid4().hex[:8]}") as url:
            report(args.name, run(url, lines, Path(tmp) / "bulk", False, scan=not args.skip_scan), args.messages)
        if args.reference:
            with scratch_database(ADMIN_URL, f"pg_bench_{uuid.uuid4().hex[:8]}") as url:
                f = run(url, lines, Path(tmp) / "reference", True, scan=False)
            report("reference", {**f, "synced": 0}, args.messages)
    if args.baseline_code:
        # A child process, so that the other checkout's modules are the ones imported.
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--messages", str(args.messages), "--conversations",
                        str(args.conversations), "--order", args.order, "--reads", str(args.reads),
                        *(["--reads-last"] if args.reads_last else []), "--skip-scan", "--name", "baseline"],
                       env={**os.environ, "PYTHONPATH": str(args.baseline_code.resolve()), "PYTHONDONTWRITEBYTECODE": "1"},
                       cwd=args.baseline_code, check=True)


if __name__ == "__main__":
    main()
