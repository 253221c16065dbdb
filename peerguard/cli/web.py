"""``peerguard web``: the HTTP API (and staff console) under uvicorn."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading

import click

from peerguard.cli._common import PeerGuardUsageError, open_app

APP = "peerguard.web.app:create_app_from_environment"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 in a container).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="uvicorn worker processes.")
@click.option("--timeout-keep-alive", default=5, show_default=True, type=click.IntRange(1, 300),
              help="Seconds an idle keep-alive connection (or a silent client) is kept open.")
@click.option("--reuse-port", "reuse_port_worker", is_flag=True, hidden=True,
              help="Internal: serve as one of several workers, each with its own SO_REUSEPORT socket.")
def web(host: str, port: int, workers: int, timeout_keep_alive: int, reuse_port_worker: bool) -> None:
    """Serve the JSON API (/v1, OpenAPI at /v1/openapi.json), /healthz, /readyz, the unsubscribe pages and the staff console (/staff/).

    Other systems authenticate with a bearer token from `peerguard tokens create`. New messages
    are scanned by `peerguard worker` (REDIS_URL) or the next `peerguard run`.

    With more than one worker (on Linux), each worker process listens on its own socket bound
    with SO_REUSEPORT, so the kernel spreads new connections over the workers; a worker that
    dies is restarted on its own.
    """
    import uvicorn

    from usecases.logs import uvicorn_log_config

    options = {"factory": True, "timeout_keep_alive": timeout_keep_alive, "limit_concurrency": 1000, "access_log": False,
               "log_level": "info", "h11_max_incomplete_event_size": 64 * 1024}
    if reuse_port_worker:
        from usecases.settings import Settings

        options.update(_logging_options(uvicorn_log_config, Settings.from_environment().log_format))
        listener = _reuse_port_socket(host, port)
        uvicorn.Server(uvicorn.Config(APP, host=host, port=port, **options)).run(sockets=[listener])
        return
    app = open_app()  # validates settings and the schema before any worker starts
    log_format = app.settings.log_format
    app.dispose()
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        # uvicorn's own --workers shares one listening socket: a burst of connections (a client
        # pool opening at once) is accepted whole by whichever worker wakes first, and the other
        # worker idles (seen in bench/api_bench.py: all 16 connections on one process).
        _ensure_free(host, port)
        sys.exit(_supervise(host, port, workers, timeout_keep_alive))
    options.update(_logging_options(uvicorn_log_config, log_format))
    uvicorn.run(APP, host=host, port=port, workers=workers, **options)


def _logging_options(log_config, log_format: str) -> dict:
    """JSON: uvicorn's own lines too, one object per line; text: uvicorn's default format."""
    return {"log_config": log_config(log_format)} if log_format == "json" else {}


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    listener = socket.socket(_family(host), socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    return listener


def _ensure_free(host: str, port: int) -> None:
    """Refuse a port someone already listens on (SO_REUSEPORT would otherwise share it silently)."""
    probe = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as exc:
        raise PeerGuardUsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    finally:
        probe.close()


def _supervise(host: str, port: int, workers: int, timeout_keep_alive: int) -> int:
    from peerguard.cli.supervisor import Supervisor

    argv = [sys.executable, "-c", "from peerguard.cli import main; main()", "web", "--host", host, "--port", str(port),
            "--workers", "1", "--timeout-keep-alive", str(timeout_keep_alive), "--reuse-port"]
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda _s, _f: stop.set())
    click.echo(f"peerguard web: {workers} workers on http://{host}:{port} (SO_REUSEPORT)", err=True)
    return Supervisor({f"web-{n}": argv for n in range(workers)}, dict(os.environ)).run(stop)
