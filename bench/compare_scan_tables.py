"""The scan stage stores the same rows as another checkout: every table after ``scan_pending`` on the same data.

The corpus is bench/scan_stage_bench.py's (bench/run_once_bench.py's ``corpus``: ``--messages`` in
``--conversations``), imported into a fresh PostgreSQL database per checkout; then ``scan_pending``
runs (``run --once``'s scan stage, staff alerts on) and every table is read back with
tests/scanning/test_set_based_equivalence.py's ``snapshot`` (ids included; message ids by their
external ids). The other checkout (``--baseline-code DIR``, e.g. a worktree of ``main``) runs in a
child process with ``PYTHONPATH=DIR`` and hands its snapshot back as a file. Exits 1 on any
difference, naming the tables and a few differing rows; prints the row counts compared.

    .venv/bin/python bench/compare_scan_tables.py --baseline-code /work/wt-base [--messages 20000] [--conversations 2000]
        [--processes 2] [--order by-conversation] [--reads 0.3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or str(ROOT))

from run_once_bench import ADMIN_URL, START, corpus  # noqa: E402

from tests.scratch_db import scratch_database  # noqa: E402


def scanned_tables(lines: Path, data_dir: Path, processes: int) -> dict[str, list[str]]:
    """Import ``lines`` into a fresh database, run the scan stage, return every table's rows (as repr strings)."""
    from actors.app import set_current_app
    from tests.scanning.test_set_based_equivalence import snapshot
    from usecases import scanning
    from usecases.app import App, SilentDoorbell
    from usecases.importing import InterchangeImporter
    from usecases.settings import Settings

    with scratch_database(ADMIN_URL, f"pg_scancmp_{uuid.uuid4().hex[:8]}") as url:
        env = {"DATABASE_URL": url, "PEERGUARD_DATA_DIR": str(data_dir), "EMAIL_URL": (data_dir / "outbox").as_uri(),
               "PEERGUARD_STAFF_EMAIL": "tns@example.com", "PEERGUARD_SCAN_PROCESSES": str(processes)}
        app = App.from_settings(Settings.from_environment(env), SilentDoorbell())
        set_current_app(app)
        try:
            now = START + timedelta(days=60)
            importer = InterchangeImporter(app.session_factory, app.blobs, lines.parent, clock=lambda: now)
            with lines.open("rb") as stream_in:
                list(importer.import_lines(stream_in))
            scanning.scan_pending(app, now)
        finally:
            set_current_app(None)
            app.dispose()
        return {table: [repr(row) for row in rows] for table, rows in snapshot(url).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=1, help="detection processes for this checkout")
    parser.add_argument("--baseline-code", type=Path, help="the checkout to compare with")
    parser.add_argument("--order", choices=("grouped", "by-conversation", "by-conversation-with-users"),
                        default="grouped",
                        help="the corpus's record order (bench/run_once_bench.py --order)")
    parser.add_argument("--reads", type=float, default=0.0, help="share of messages followed by a read receipt")
    parser.add_argument("--reads-last", action="store_true", help="each conversation's receipts after its messages")
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # child: write the snapshot here
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "market.jsonl"
        lines.write_text("".join(json.dumps(r) + "\n" for r in corpus(args.messages, args.conversations,
                                                                                  order=args.order, reads=args.reads,
                                                                                  reads_last=args.reads_last)))
        if args.dump:
            args.dump.write_text(json.dumps(scanned_tables(lines, Path(tmp) / "data", 1)))
            return
        if args.baseline_code is None:
            parser.error("--baseline-code is required")
        mine = scanned_tables(lines, Path(tmp) / "data", args.processes)
        dump = Path(tmp) / "baseline.json"
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--messages", str(args.messages), "--conversations",
                        str(args.conversations), "--order", args.order, "--reads", str(args.reads),
                         *(["--reads-last"] if args.reads_last else []), "--dump", str(dump)],
                       env={**os.environ, "PYTHONPATH": str(args.baseline_code.resolve())}, cwd=args.baseline_code, check=True)
        theirs = json.loads(dump.read_text())
    differing = []
    for table in sorted(set(mine) | set(theirs)):
        a, b = mine.get(table, []), theirs.get(table, [])
        if a != b:
            differing.append(table)
            only_mine, only_theirs = sorted(set(a) - set(b))[:3], sorted(set(b) - set(a))[:3]
            print(f"DIFFERENT {table}: {len(a)} rows here, {len(b)} in the baseline; here only: {only_mine}; baseline only: {only_theirs}")
    counts = ", ".join(f"{t} {len(mine[t])}" for t in ("contact_findings", "messages", "review_items", "review_item_messages",
                                                       "review_signals", "review_history", "email_outbox") if t in mine)
    print(f"compared {len(mine)} tables ({counts}): " + ("identical" if not differing else f"{len(differing)} differ"))
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
