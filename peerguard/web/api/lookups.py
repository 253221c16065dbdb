"""Reads by the marketplace's ids: a message with its findings and review state, a user's standing."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request

from peerguard.web.auth import require
from peerguard.web.errors import ApiError
from usecases import lookups

router = APIRouter(prefix="/v1", tags=["reads"], dependencies=[Depends(require("read"))])


@router.get("/messages/{message_id}")
def get_message(message_id: str, request: Request) -> dict[str, Any]:
    """A message: its findings, masked text (once scanned) and review state."""
    view = lookups.message(request.app.state.peerguard, message_id)
    if view is None:
        raise ApiError(404, "not_found", f"unknown message {message_id!r}")
    data = asdict(view)
    data["sent_at"] = view.sent_at.isoformat()
    return data


@router.get("/users/{user_id}")
def get_user(user_id: str, request: Request) -> dict[str, Any]:
    """A user: active strikes, restricted or suspension-recommended, response statistics."""
    found = lookups.user(request.app.state.peerguard, user_id, datetime.now(UTC))
    if found is None:
        raise ApiError(404, "not_found", f"unknown user {user_id!r}")
    return found
