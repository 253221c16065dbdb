"""The broker's store (Redis), seen from outside Dramatiq: is it reachable."""

from __future__ import annotations

import redis


def ping_redis(url: str, timeout: float = 2.0) -> bool:
    """True when Redis at ``url`` answers PING."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
