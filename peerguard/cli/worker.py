"""``peerguard worker``: Dramatiq worker processes on the Redis broker."""

from __future__ import annotations

import os
import sys

import click

from peerguard.cli._common import PeerGuardUsageError, load_settings


@click.command()
@click.option("--processes", "-p", default=2, show_default=True, type=click.IntRange(1), help="Worker processes.")
@click.option("--threads", "-t", default=4, show_default=True, type=click.IntRange(1), help="Threads per process.")
@click.option("--queues", "-Q", multiple=True, help="Only consume these queues (repeatable), e.g. -Q transcripts.")
def worker(processes: int, threads: int, queues: tuple[str, ...]) -> None:
    """Start Dramatiq workers for every PeerGuard actor (needs REDIS_URL).

    Equivalent to `dramatiq actors.all -p N -t N`. Transcripts have their own queue so a
    separate worker (`-Q transcripts`) can render them without starving scanning or mail.
    """
    settings = load_settings()
    if not settings.redis_url:
        raise PeerGuardUsageError(
            "REDIS_URL is not set: workers need the Redis broker (use `peerguard run` without it)", exit_code=2
        )
    argv = [sys.executable, "-m", "dramatiq", "actors.all", "--processes", str(processes), "--threads", str(threads)]
    if queues:
        argv += ["--queues", *queues]
    os.execv(sys.executable, argv)
