"""`run --once` stage benchmark on PostgreSQL: import, scan stage and response sync, in one process.

Generates a marketplace of ``--conversations`` conversations with ``--messages`` messages in all
(buyers ask, sellers answer; texts from bench/stream.py, about 4% contact attempts), writes it as
interchange JSON lines, then on a fresh PostgreSQL database:

1. imports the file with the importer ``peerguard import`` uses (records/s and messages/s);
2. runs the scan stage (``scan_pending``): messages/s;
3. runs the response sync (``sync_new_messages``): messages/s.

``--reference`` runs the same with the row-at-a-time import (one savepoint a record), the
baseline of the same run. The doorbell is silent (no broker), as for ``run --once``.

    .venv/bin/python bench/run_once_bench.py [--messages 20000] [--conversations 2000] [--reference]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import stream  # noqa: E402

from tests.scratch_db import scratch_database  # noqa: E402

ADMIN_URL = os.environ.get("PEERGUARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def corpus(messages: int, conversations: int, seed: int = 17) -> list[dict]:
    """Users, then conversations, then messages in time order (buyers and sellers take turns, mostly)."""
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
    for m, text in enumerate(texts):
        c = m % conversations
        clock[c] += timedelta(minutes=rng.randint(1, 600))
        buyer, seller = pairs[c]
        sender = buyer if rng.random() < 0.55 else seller
        records.append({"type": "message", "id": f"m-{m}", "conversation": f"c-{c}", "sender": sender,
                        "sent_at": clock[c].isoformat(), "text": text})
    return records


def run(url: str, lines: Path, data_dir: Path, reference: bool) -> dict[str, float]:
    from actors.app import set_current_app
    from usecases import responses, scanning
    from usecases.app import App, SilentDoorbell
    from usecases.importing import InterchangeImporter
    from usecases.settings import Settings

    settings = Settings.from_environment({"DATABASE_URL": url, "PEERGUARD_DATA_DIR": str(data_dir),
                                          "EMAIL_URL": (data_dir / "outbox").as_uri()})
    app = App.from_settings(settings, SilentDoorbell())
    set_current_app(app)
    now = START + timedelta(days=60)
    importer = InterchangeImporter(app.session_factory, app.blobs, lines.parent, clock=lambda: now,
                                   bulk=not reference)
    figures: dict[str, float] = {}
    started = time.perf_counter()
    with lines.open("rb") as stream_in:
        outcomes = list(importer.import_lines(stream_in))
    figures["import_s"] = time.perf_counter() - started
    figures["records"] = len(outcomes)
    figures["errors"] = sum(o.status == "error" for o in outcomes)
    started = time.perf_counter()
    figures["scanned"] = scanning.scan_pending(app, now)["messages"]
    figures["scan_s"] = time.perf_counter() - started
    started = time.perf_counter()
    figures["synced"] = responses.sync_new_messages(app, now)["messages"]
    figures["sync_s"] = time.perf_counter() - started
    set_current_app(None)
    app.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--reference", action="store_true", help="also run the row-at-a-time import as the baseline")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "market.jsonl"
        lines.write_text("".join(json.dumps(r) + "\n" for r in corpus(args.messages, args.conversations)))
        modes = [("bulk", False)] + ([("reference", True)] if args.reference else [])
        for name, reference in modes:
            with scratch_database(ADMIN_URL, f"pg_bench_{uuid.uuid4().hex[:8]}") as url:
                f = run(url, lines, Path(tmp) / name, reference)
            print(f"{name:<9} import {f['records']:.0f} records ({f['errors']:.0f} errors) in {f['import_s']:.2f} s"
                  f" = {f['records'] / f['import_s']:,.0f} records/s, {args.messages / f['import_s']:,.0f} messages/s;"
                  f" scan {f['scanned']:.0f} in {f['scan_s']:.2f} s = {f['scanned'] / f['scan_s']:,.0f} msg/s;"
                  f" response sync {f['synced']:.0f} in {f['sync_s']:.2f} s = {f['synced'] / f['sync_s']:,.0f} msg/s",
                  flush=True)


if __name__ == "__main__":
    main()
