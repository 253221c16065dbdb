"""``peerguard worker``: Dramatiq worker processes on the Redis broker, with Prometheus metrics."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import click

from peerguard.cli._common import PeerGuardUsageError, load_settings
from usecases.settings import SettingsError


@click.command()
@click.option("--processes", "-p", default=2, show_default=True, type=click.IntRange(1), help="Worker processes.")
@click.option("--threads", "-t", default=4, show_default=True, type=click.IntRange(1), help="Threads per process.")
@click.option("--queues", "-Q", multiple=True, help="Only consume these queues (repeatable), e.g. -Q transcripts.")
@click.option("--mail-processes", type=click.IntRange(0, 32), default=0, show_default=True,
              help="Extra processes that only deliver mail, polling the outbox every 2 s; use them when a "
                   "backlog must go out faster than one process can send (they share it safely).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics of all worker processes on this port (e.g. 9191).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address the metrics server binds to.")
def worker(processes: int, threads: int, queues: tuple[str, ...], mail_processes: int, metrics_port: int | None,
           metrics_host: str) -> None:
    """Start Dramatiq workers for every PeerGuard actor (needs REDIS_URL).

    Equivalent to `dramatiq actors.all -p N -t N`. Queues: scanning, attachment_scan, sweeps,
    mail and transcripts; transcripts and attachment_scan (OCR) have their own queues so a
    separate worker (`-Q transcripts`, `-Q attachment_scan`) can run them without starving
    scanning or mail. --mail-processes N adds N processes that
    do nothing but deliver the outbox. With --metrics-port, the counters and
    timings of every worker process are served at http://HOST:PORT/metrics.
    """
    settings = load_settings()
    try:
        settings.require_production_key("peerguard worker")
    except SettingsError as exc:
        raise PeerGuardUsageError(str(exc), exit_code=2) from None
    if not settings.redis_url:
        raise PeerGuardUsageError(
            "REDIS_URL is not set: workers need the Redis broker (use `peerguard run` without it)", exit_code=2
        )
    argv = [sys.executable, "-m", "dramatiq", "actors.all", "--processes", str(processes), "--threads", str(threads)]
    if queues:
        argv += ["--queues", *queues]
    for _ in range(mail_processes):
        argv += ["--fork-function", "actors.outbox:mail_process"]
    if metrics_port is None:
        os.execv(sys.executable, argv)
    sys.exit(_supervise_with_metrics(argv, settings.data_dir / "metrics" / str(os.getpid()), metrics_host, metrics_port))


def _supervise_with_metrics(argv: list[str], metrics_dir, host: str, port: int) -> int:
    """Run the workers as a child and serve their multiprocess metrics from this process."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise PeerGuardUsageError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None
    child = subprocess.Popen(argv, env=env)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda s, _f: child.send_signal(s))
    try:
        return child.wait()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
