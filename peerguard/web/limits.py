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


class BodyTooLarge(Exception):
    """The client sent more than the route's limit."""


class BodyTimeout(Exception):
    """The client stopped sending its body."""


class LimitsAndAccessLog:
    """Pure ASGI middleware: 413 as soon as a body passes its limit, one access log line per request."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        started, status = time.perf_counter(), [0]

        async def send_logged(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await _refuse(send_logged, 413, "too_large", f"request body larger than {limit} bytes")
            else:
                await self.app(scope, _counting(receive, limit), send_logged)
        except BodyTooLarge:
            if status[0] == 0:
                await _refuse(send_logged, 413, "too_large", f"request body larger than {limit} bytes")
        except BodyTimeout:
            if status[0] == 0:
                await _refuse(send_logged, 408, "timeout", f"no body data for {BODY_TIMEOUT:.0f} s")
        finally:
            state = scope.get("state") or {}
            log.info("%s %s %s %.1fms token=%s", scope["method"], scope["path"], status[0],
                     (time.perf_counter() - started) * 1000, state.get("token_name", "-"))


def _counting(receive, limit: int):
    seen, complete = 0, False

    async def counted():
        nonlocal seen, complete
        if complete:
            # After the body, Starlette waits here for the disconnect; that wait has no time limit.
            return await receive()
        try:
            message = await asyncio.wait_for(receive(), BODY_TIMEOUT)
        except TimeoutError:
            raise BodyTimeout() from None
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge()
            complete = not message.get("more_body", False)
        return message

    return counted


async def _refuse(send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
