"""``peerguard run``: process everything pending, in this process."""

from __future__ import annotations

import time

import click

from peerguard.cli._common import open_app, parse_now


@click.command()
@click.option("--once", is_flag=True, help="Process everything pending once, then exit.")
@click.option("--now", "now_text", metavar="ISO-8601", help="Act as of this time (default: the clock). Needs a zone.")
@click.option("--interval", default=60, show_default=True, type=click.IntRange(1), help="Seconds between rounds without --once.")
@click.option("--scan-processes", type=click.IntRange(1), default=None,
              help="Processes running detection in the scan stage (default: PEERGUARD_SCAN_PROCESSES, else auto: "
                   "one per core when 2,000 messages or more wait, else this process alone).")
def run(once: bool, now_text: str | None, interval: int, scan_processes: int | None) -> None:
    """Run every pipeline stage in-process: scanning, review housekeeping, reminders, transcripts, mail.

    With --once, process everything pending as of --now (default: the clock) and exit. Without
    it, repeat every --interval seconds until interrupted (a small deployment's whole back end;
    larger ones use `peerguard worker` and `peerguard scheduler` with Redis).
    """
    from actors.stages import run_once

    app = open_app(sends_email="peerguard run")
    if scan_processes is not None:
        app.settings = app.settings.with_(scan_processes=scan_processes)
    while True:
        run_once(app, parse_now(now_text), report=print_stage)
        if once:
            return
        time.sleep(interval)


def print_stage(name: str, counts: dict[str, int], seconds: float) -> None:
    """One line per stage: its counts and how long it took."""
    detail = ", ".join(f"{k}={v}" for k, v in counts.items()) or "nothing to do"
    click.echo(f"  {name:<12} {detail}  ({seconds:.2f} s)")
