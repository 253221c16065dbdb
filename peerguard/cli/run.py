"""``peerguard run``: process everything pending, in this process."""

from __future__ import annotations

import time

import click

from peerguard.cli._common import open_context, parse_now


@click.command()
@click.option("--once", is_flag=True, help="Process everything pending once, then exit.")
@click.option("--now", "now_text", metavar="ISO-8601", help="Act as of this time (default: the clock). Needs a zone.")
@click.option("--interval", default=60, show_default=True, type=click.IntRange(1), help="Seconds between rounds without --once.")
def run(once: bool, now_text: str | None, interval: int) -> None:
    """Run every pipeline stage in-process: scanning, reminders, transcripts, then mail delivery.

    With --once, process everything pending as of --now (default: the clock) and exit. Without
    it, repeat every --interval seconds until interrupted (a small deployment's whole back end;
    larger ones use `peerguard worker` and `peerguard scheduler` with Redis).
    """
    from actors.runner import run_once

    context = open_context()
    while True:
        now = parse_now(now_text)
        run_once(context, now, report=_print_stage)
        if once:
            return
        time.sleep(interval)


def _print_stage(name: str, counts: dict[str, int], seconds: float) -> None:
    detail = ", ".join(f"{k}={v}" for k, v in counts.items()) or "nothing to do"
    click.echo(f"{name:<12} {detail}  ({seconds:.2f} s)")
