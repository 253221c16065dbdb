"""Health: whether the database and the broker answer."""

from __future__ import annotations

from storage.db import ping_database
from storage.queues import ping_redis
from usecases.app import App


def readiness(app: App) -> dict[str, bool]:
    """One entry per dependency: True when it answered within a second or two."""
    checks = {"database": ping_database(app.engine)}
    if app.settings.redis_url:
        checks["broker"] = ping_redis(app.settings.redis_url)
    return checks
