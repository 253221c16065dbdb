"""The ASGI app: JSON API under /v1 (OpenAPI at /v1/openapi.json), health checks, unsubscribe pages, the staff console (/staff)."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI

from peerguard.web import errors, unsubscribe
from peerguard.web.api import health, ingest, lookups, notifications, preferences, scan, transcripts
from peerguard.web.console import pages as console
from peerguard.web.console.security import ConsoleSecurityHeaders
from peerguard.web.limits import LimitsAndAccessLog
from usecases import scanning
from usecases.app import App
from usecases.group_ingest import GroupIngest

ROUTERS = (health.router, ingest.router, preferences.router, scan.router, lookups.router, transcripts.router,
           notifications.router, unsubscribe.router)


def create_app(app: App) -> FastAPI:
    """The web app around one ``App`` (settings, database, doorbell) for this process."""
    @asynccontextmanager
    async def lifespan(_web: FastAPI):
        # Detectors compiled before the first request, then everything alive at start-up moved out
        # of the collector's reach: a full collection of the start-up heap (about 150,000 objects:
        # detectors, SQLAlchemy, FastAPI) took 150 ms, a pause that landed in /v1/scan's p99.
        scanning.warm_up(app)
        gc.collect()
        gc.freeze()
        yield

    web = FastAPI(
        lifespan=lifespan, title="PeerGuard API", version="1", openapi_url="/v1/openapi.json", docs_url="/v1/docs", redoc_url=None,
        description="Messages in, compose-time checks, decisions out. Ids are the marketplace's own.",
    )
    web.state.peerguard = app
    web.state.ingest_group = GroupIngest(app)  # single-record PUTs: one writer, group commit
    errors.install(web)
    for router in ROUTERS:
        web.include_router(router)
    console.install(web)  # the staff console under /staff: HTML pages, sessions, roles
    web.add_middleware(ConsoleSecurityHeaders)
    web.add_middleware(LimitsAndAccessLog)
    return web


def create_app_from_environment() -> FastAPI:
    """uvicorn's factory (``--factory``): settings from the environment, doorbell to the workers."""
    from actors.app import BrokerDoorbell
    from usecases.app import SilentDoorbell
    from usecases.logs import configure_logging
    from usecases.settings import Settings

    settings = Settings.from_environment()
    configure_logging(settings.log_format)
    return create_app(App.from_settings(settings, BrokerDoorbell() if settings.redis_url else SilentDoorbell()))
