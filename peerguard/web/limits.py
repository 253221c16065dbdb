"""Body-size limits enforced before a body is read whole, and access logs that name the token, never show it."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from peerguard.web.errors import error_body

log = logging.getLogger("peerguard.web.access")

JSON_LIMIT = 1 << 20
"""Bytes of a single-record request (a message body may be 256 KiB of UTF-8, escaped up to 6x in JSON)."""
BATCH_LIMIT = 64 << 20
ATTACHMENT_LIMIT = 50 << 20
BODY_TIMEOUT = 10.0
"""Seconds a client may pause while sending a body before it gets 408 (a slow client holds no thread)."""


def limit_for(path: str) -> int:
    if path == "/v1/batch":
        return BATCH_LIMIT
    if path == "/v1/attachments":
        return ATTACHMENT_LIMIT + (1 << 20)  # room for the multipart envelope
    return JSON_LIMIT


class LimitsAndAccessLog:
    """Pure ASGI middleware: 413 as soon as a body passes its limit, 408 when it stalls, one log line per request.

    The refusal is sent from here and the app is told the client left, so no framework code
    between this middleware and the route can turn it into another error.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        exchange = _Exchange(scope, receive, send, limit_for(scope["path"]))
        started = time.perf_counter()
        try:
            declared = dict(scope["headers"]).get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > exchange.limit:
                await exchange.refuse(413, "too_large", f"request body larger than {exchange.limit} bytes")
            else:
                await self.app(scope, exchange.receive, exchange.send)
        finally:
            state = scope.get("state") or {}
            log.info("%s %s %s %.1fms token=%s", scope["method"], scope["path"], exchange.status,
                     (time.perf_counter() - started) * 1000, state.get("token_name", "-"))


class _Exchange:
    """One request's receive and send, counting the body and remembering the status sent."""

    def __init__(self, scope, receive, send, limit: int) -> None:
        self.scope, self._receive, self._send, self.limit = scope, receive, send, limit
        self.seen, self.complete, self.refused, self.status = 0, False, False, 0

    async def send(self, message) -> None:
        if self.refused:
            return  # the refusal already answered this request
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)

    async def receive(self):
        if self.complete or self.refused:
            # After the body, Starlette waits here for the disconnect; that wait has no time limit.
            return await self._receive() if not self.refused else {"type": "http.disconnect"}
        try:
            message = await asyncio.wait_for(self._receive(), BODY_TIMEOUT)
        except TimeoutError:
            return await self._refuse_body(408, "timeout", f"no body data for {BODY_TIMEOUT:.0f} s")
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                return await self._refuse_body(413, "too_large", f"request body larger than {self.limit} bytes")
            self.complete = not message.get("more_body", False)
        return message

    async def _refuse_body(self, status: int, code: str, message: str):
        await self.refuse(status, code, message)
        return {"type": "http.disconnect"}

    async def refuse(self, status: int, code: str, message: str) -> None:
        if self.status == 0 and not self.refused:
            await _refuse(self._send, status, code, message)
            self.status, self.refused = status, True


async def _refuse(send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
