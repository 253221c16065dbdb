"""Choose the broker from configuration, before any actor module is imported.

Dramatiq's ``@actor`` binds to the global broker that exists at decoration time, so every actor
module imports this one first. Creating the broker opens no connection: redis-py connects lazily.
"""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Middleware,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from actors.heartbeat import WorkerHeartbeat
from actors.metrics import ActorMetrics
from usecases.logs import configure_logging
from usecases.settings import Settings

REDIS_NAMESPACE = "peerguard"
# A worker process silent this long is dead, and the messages it had fetched but not finished go
# back to their queue at the next maintenance pass. Dramatiq's defaults (60 s, and maintenance on
# 0.1 % of commands) left the scans a killed worker had prefetched stranded for minutes; the
# catch-up sweep does not re-ring them while their ring is recent (usecases/scanning.py).
HEARTBEAT_TIMEOUT_MS = 30_000
MAINTENANCE_CHANCE = 50_000  # per million Redis commands: about one pass a second on a busy broker


def middleware() -> list[Middleware]:
    """The explicit middleware stack: no default we did not choose."""
    return [
        AgeLimit(),
        TimeLimit(time_limit=10 * 60 * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=5, min_backoff=1000, max_backoff=5 * 60 * 1000),
        ActorMetrics(),
        WorkerHeartbeat(),
    ]


def make_broker(redis_url: str | None) -> dramatiq.Broker:
    """A RedisBroker when ``redis_url`` is set, else an in-process StubBroker."""
    if redis_url:
        return RedisBroker(url=redis_url, namespace=REDIS_NAMESPACE, middleware=middleware(),
                           heartbeat_timeout=HEARTBEAT_TIMEOUT_MS, maintenance_chance=MAINTENANCE_CHANCE)
    return StubBroker(middleware=middleware())


_settings = Settings.from_environment()
if _settings.log_format == "json" and not logging.getLogger().handlers:
    # A Dramatiq worker process started with --skip-logging by `peerguard worker`: its stderr
    # is already Dramatiq's log pipe, so JSON lines go through it like every other line.
    configure_logging("json")
broker = make_broker(_settings.redis_url)
dramatiq.set_broker(broker)
