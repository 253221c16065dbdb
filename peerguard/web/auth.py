"""Bearer tokens for the API: 401 for a missing, malformed, wrong or revoked token, 403 for a missing scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from peerguard.web.errors import ApiError
from usecases.tokens import InvalidToken, Principal, authenticate, recently_verified

CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that admits only tokens carrying ``scope``."""

    async def dependency(request: Request) -> Principal:
        # Async, so a token verified in the last CACHE_SECONDS costs no trip to a worker thread;
        # only a database read (a new token, or the cache's bound passed) goes to one.
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>", headers=CHALLENGE)
        try:
            principal = recently_verified(token.strip()) or await run_in_threadpool(
                authenticate, request.app.state.peerguard, token.strip())
        except InvalidToken:
            raise ApiError(401, "unauthorized", "the token is unknown, wrong or revoked", headers=CHALLENGE) from None
        request.scope.setdefault("state", {})["token_name"] = principal.name
        if scope not in principal.scopes:
            raise ApiError(403, "forbidden", f"this token lacks the {scope!r} scope")
        return principal

    return dependency
