"""Outgoing HTTP for webhooks: one keep-alive client per thread, short timeouts, no redirects.

httpx is imported when the first poster is made, not with this module: every command that may
queue a webhook event imports this module, and only the webhook deliverer posts (a read-only
command such as `peerguard review list` should not pay httpx's import).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

TIMEOUT_SECONDS, CONNECT_TIMEOUT_SECONDS = 10.0, 3.0
"""A receiver that takes longer than this is treated as failed and tried again later."""


@dataclass(frozen=True)
class PostResult:
    """The receiver's status code, or None with the transport error when no answer came."""

    status: int | None
    error: str | None = None


class WebhookPoster:
    """Posts signed bodies; each thread keeps its own connection pool."""

    def __init__(self, timeout: Any = None) -> None:
        import httpx

        self.timeout = timeout or httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
        import httpx

        try:
            response = self._client().post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return PostResult(None, f"{type(exc).__name__}: {exc}"[:500])
        return PostResult(response.status_code, None if response.is_success else response.text[:200])

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    def _client(self) -> httpx.Client:
        import httpx

        client = getattr(self._local, "client", None)
        if client is None:
            # Redirects are not followed: a receiver must answer at the URL it registered.
            client = httpx.Client(timeout=self.timeout, follow_redirects=False,
                                  headers={"user-agent": "PeerGuard-Webhooks/1", "content-type": "application/json"})
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client
