"""``peerguard worker``: supervised Dramatiq worker processes on the Redis broker, with Prometheus metrics."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading

import click

from peerguard.cli._common import PeerGuardUsageError, load_settings
from usecases.settings import SettingsError

# A mail process is a plain Python process running the outbox poller (see actors.outbox).
MAIL_PROCESS = ("from usecases.logs import configure_logging; from usecases.settings import log_format; "
                "configure_logging(log_format()); from actors.outbox import mail_process; mail_process()")


@click.command()
@click.option("--processes", "-p", default=2, show_default=True, type=click.IntRange(1), help="Worker processes.")
@click.option("--threads", "-t", default=4, show_default=True, type=click.IntRange(1), help="Threads per process.")
@click.option("--queues", "-Q", multiple=True, help="Only consume these queues (repeatable), e.g. -Q transcripts.")
@click.option("--mail-processes", type=click.IntRange(0, 32), default=0, show_default=True,
              help="Extra processes that only deliver mail, polling the outbox every 2 s; use them when a "
                   "backlog must go out faster than one process can send (they share it safely).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics of all worker processes, plus the backlog gauges, on this port (e.g. 9191).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address the metrics server binds to.")
def worker(processes: int, threads: int, queues: tuple[str, ...], mail_processes: int, metrics_port: int | None,
           metrics_host: str) -> None:
    """Start supervised Dramatiq workers for every PeerGuard actor (needs REDIS_URL).

    Each of the --processes runs as its own `dramatiq actors.all -p 1 -t N`; queues: scanning,
    attachment_scan, sweeps, mail and transcripts (transcripts and attachment_scan (OCR) have
    their own queues so a separate worker, `-Q transcripts` or `-Q attachment_scan`, can run them
    without starving scanning or mail). --mail-processes N
    adds N processes that do nothing but deliver the outbox. A process that dies is replaced
    on its own, the others keep running; SIGTERM stops them all. With --metrics-port, the
    counters and timings of every process and the backlog gauges are served at
    http://HOST:PORT/metrics. Every worker touches a heartbeat (`peerguard health worker`).
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
    from usecases.logs import configure_logging

    configure_logging(settings.log_format)
    argv = [sys.executable, "-m", "dramatiq", "actors.all", "--processes", "1", "--threads", str(threads)]
    if settings.log_format == "json":
        argv.append("--skip-logging")  # actors.broker configures JSON logging in each worker process
    if queues:
        argv += ["--queues", *queues]
    commands = {f"worker-{n}": argv for n in range(processes)}
    commands |= {f"mail-{n}": [sys.executable, "-c", MAIL_PROCESS] for n in range(mail_processes)}
    env = dict(os.environ)
    on_exit = None
    metrics_dir = settings.data_dir / "metrics" / str(os.getpid())
    if metrics_port is not None:
        on_exit = _serve_metrics(metrics_dir, metrics_host, metrics_port)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    sys.exit(_supervise(commands, env, on_exit, metrics_dir if metrics_port is not None else None))


def _supervise(commands, env, on_exit, metrics_dir) -> int:
    from peerguard.cli.supervisor import Supervisor

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda _s, _f: stop.set())
    try:
        return Supervisor(commands, env, on_exit).run(stop)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve_metrics(metrics_dir, host: str, port: int):
    """Serve the children's multiprocess metrics and the backlog gauges from this process."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

    from actors.gauges import BacklogCollector

    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    registry.register(BacklogCollector())
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise PeerGuardUsageError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None
    return lambda pid: mark_process_dead(pid, str(metrics_dir))
