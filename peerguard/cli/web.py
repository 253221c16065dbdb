"""``peerguard web``: the HTTP API (and staff console) under uvicorn."""

from __future__ import annotations

import click

from peerguard.cli._common import open_app


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 in a container).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="uvicorn worker processes.")
@click.option("--timeout-keep-alive", default=5, show_default=True, type=click.IntRange(1, 300),
              help="Seconds an idle keep-alive connection (or a silent client) is kept open.")
def web(host: str, port: int, workers: int, timeout_keep_alive: int) -> None:
    """Serve the JSON API (/v1, OpenAPI at /v1/openapi.json), /healthz, /readyz, the unsubscribe pages and the staff console (/staff/).

    Other systems authenticate with a bearer token from `peerguard tokens create`. New messages
    are scanned by `peerguard worker` (REDIS_URL) or the next `peerguard run`.
    """
    import uvicorn

    from usecases.logs import uvicorn_log_config

    app = open_app()  # validates settings and the schema before any worker starts
    log_format = app.settings.log_format
    app.dispose()
    # JSON: uvicorn's own lines too, one object per line; text: uvicorn's default format.
    logging_options = {"log_config": uvicorn_log_config(log_format)} if log_format == "json" else {}
    uvicorn.run("peerguard.web.app:create_app_from_environment", factory=True, host=host, port=port, workers=workers,
                timeout_keep_alive=timeout_keep_alive, limit_concurrency=1000, access_log=False, log_level="info",
                h11_max_incomplete_event_size=64 * 1024, **logging_options)
