"""Whole-process time of the read-only commands (`review list`, `sellers stats`, `outbox status`).

Each command runs --runs times on an embedded SQLite database (process start to exit); the
baseline in the same run is `python -c pass` and `python -c "import sqlalchemy.orm"` (the floor
any command that reads the database pays). Also lists which heavy modules each command imports.
Usage::

    .venv/bin/python bench/cli_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = (["review", "list"], ["sellers", "stats"], ["outbox", "status"], ["status"])
HEAVY = ("jinja2", "dramatiq", "weasyprint", "pipeline.detection.scanner", "fastapi", "alembic", "redis", "prometheus_client")


def timed(argv: list[str], env: dict[str, str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def heavy_imports(command: list[str], env: dict[str, str]) -> list[str]:
    probe = ("import sys; from peerguard.cli import main; sys.argv = ['peerguard', *sys.argv[1:]]\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe, *command], env=env, capture_output=True, text=True).stdout
    line = [x for x in out.splitlines() if x.startswith("HEAVY")]
    return eval(line[-1][6:]) if line else ["?"]  # noqa: S307 - our own repr of a list of names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PEERGUARD_DATA_DIR": folder}
        for var in ("DATABASE_URL", "REDIS_URL"):
            env.pop(var, None)
        subprocess.run([str(BIN / "peerguard"), "db", "upgrade"], env=env, check=True, capture_output=True)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; median of {args.runs} runs")
        floor = timed([sys.executable, "-c", "pass"], env, args.runs)
        orm = timed([sys.executable, "-c", "import sqlalchemy.orm"], env, args.runs)
        print(f"{'python -c pass':<28} {floor * 1000:7.0f} ms")
        print(f"{'import sqlalchemy.orm':<28} {orm * 1000:7.0f} ms")
        for command in COMMANDS:
            seconds = timed([str(BIN / "peerguard"), *command], env, args.runs)
            print(f"{'peerguard ' + ' '.join(command):<28} {seconds * 1000:7.0f} ms  ({seconds / orm:.2f}x the ORM import)"
                  f"  heavy modules: {heavy_imports(command, env) or 'none'}")


if __name__ == "__main__":
    main()
