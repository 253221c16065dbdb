"""Scan stage (`run --once`'s ``scan_pending``) on PostgreSQL: wall and CPU time, against baselines in the same run.

The corpus is bench/run_once_bench.py's (``--messages`` in ``--conversations``, texts from
bench/stream.py, about 4% contact attempts), imported untimed into a fresh database per run; then
``scan_pending`` is timed: wall time, this process's CPU time (detection and the driver's side of
every statement), and the PostgreSQL server's CPU time for the database (from ``/proc`` of its
backends, when readable). Runs, each on its own fresh database, in this order:

* ``set-based``: this checkout as it is, once per count in ``--processes`` (``1,2``: detection in
  this process alone, then in two worker processes while this one reads and writes);
* ``one-by-one`` (``--one-by-one``): this checkout with review items opened one incident at a
  time (``scan_pending(one_by_one=True)``, the equivalence test's reference);
* ``baseline`` (``--baseline-code DIR``): another checkout's code (e.g. ``git archive`` of ``main``
  before this work) in a child process with ``PYTHONPATH=DIR``.

A machine shared with other work makes wall time noisy; the load average is printed with each run.

    .venv/bin/python bench/scan_stage_bench.py [--messages 20000] [--conversations 2000] [--one-by-one]
        [--baseline-code /tmp/scan_baseline] [--staff-email tns@example.com] [--processes 1,2]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or str(ROOT))

from run_once_bench import ADMIN_URL, START, corpus  # noqa: E402

from tests.scratch_db import scratch_database  # noqa: E402


def backend_cpu(engine) -> float | None:
    """CPU seconds of the database's server processes so far (utime + stime), None if /proc is not readable."""
    from sqlalchemy import text

    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars().all()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def run(url: str, lines: Path, data_dir: Path, one_by_one: bool, staff_email: str | None, processes: int = 1) -> dict[str, float]:
    from sqlalchemy import create_engine

    from actors.app import set_current_app
    from usecases import scanning
    from usecases.app import App, SilentDoorbell
    from usecases.importing import InterchangeImporter
    from usecases.settings import Settings

    env = {"DATABASE_URL": url, "PEERGUARD_DATA_DIR": str(data_dir), "EMAIL_URL": (data_dir / "outbox").as_uri()}
    if staff_email:
        env["PEERGUARD_STAFF_EMAIL"] = staff_email
    env["PEERGUARD_SCAN_PROCESSES"] = str(processes)  # explicit: the default, auto, would start two on this backlog
    app = App.from_settings(Settings.from_environment(env), SilentDoorbell())
    set_current_app(app)
    now = START + timedelta(days=60)
    importer = InterchangeImporter(app.session_factory, app.blobs, lines.parent, clock=lambda: now)
    with lines.open("rb") as stream_in:
        list(importer.import_lines(stream_in))
    options = {"one_by_one": True} if one_by_one else {}
    if one_by_one and "one_by_one" not in inspect.signature(scanning.scan_pending).parameters:
        raise SystemExit("this checkout has no one-by-one scan path")
    watcher = create_engine(url)
    server_before = backend_cpu(watcher)
    load_before = os.getloadavg()[0]
    wall, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    counts = scanning.scan_pending(app, now, **options)
    wall, cpu, children = time.perf_counter() - wall, time.process_time() - cpu, _children_cpu() - children
    server_after = backend_cpu(watcher)
    watcher.dispose()
    set_current_app(None)
    app.dispose()
    server = server_after - server_before if server_before is not None and server_after is not None else None
    return {**counts, "wall_s": wall, "cpu_s": cpu, "children_cpu_s": children, "server_cpu_s": server, "load_before": load_before,
            "load_after": os.getloadavg()[0]}


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the detection pool, once it has shut down)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def report(name: str, f: dict) -> None:
    server = f" + server {f['server_cpu_s']:.2f} s" if f.get("server_cpu_s") is not None else ""
    if f.get("children_cpu_s"):
        server = f" + detection processes {f['children_cpu_s']:.2f} s{server}"
    print(f"{name:<10} scan {f['messages']} messages ({f['findings']} findings, {f['review_items']} review items) in "
          f"{f['wall_s']:.2f} s = {f['messages'] / f['wall_s']:,.0f} msg/s wall; CPU: this process {f['cpu_s']:.2f} s"
          f" = {f['messages'] / f['cpu_s']:,.0f} msg/s{server}; load {f['load_before']:.1f} → {f['load_after']:.1f}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--one-by-one", action="store_true", help="also run with review items opened one incident at a time")
    parser.add_argument("--baseline-code", type=Path, help="also run with this checkout's code")
    parser.add_argument("--staff-email", default="tns@example.com", help="staff alerts on (flag-alerts are written)")
    parser.add_argument("--processes", default="1", help="comma-separated counts of detection processes to run this checkout with")
    parser.add_argument("--only-this", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--name", default="set-based", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "market.jsonl"
        lines.write_text("".join(json.dumps(r) + "\n" for r in corpus(args.messages, args.conversations)))
        counts = [int(p) for p in args.processes.split(",")] if not args.only_this else [1]
        modes = [(args.name if p == 1 else f"{p} procs", False, p) for p in counts]
        modes += [("one-by-one", True, 1)] if args.one_by_one and not args.only_this else []
        for name, one_by_one, processes in modes:
            with scratch_database(ADMIN_URL, f"pg_scanb_{uuid.uuid4().hex[:8]}") as url:
                report(name, run(url, lines, Path(tmp) / name.replace(" ", "-"), one_by_one, args.staff_email, processes))
    if args.baseline_code and not args.only_this:
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--messages", str(args.messages), "--conversations",
                        str(args.conversations), "--staff-email", args.staff_email, "--only-this", "--name", "baseline"],
                       env={**os.environ, "PYTHONPATH": str(args.baseline_code.resolve()), "PYTHONDONTWRITEBYTECODE": "1"},
                       cwd=args.baseline_code, check=True)


if __name__ == "__main__":
    main()
