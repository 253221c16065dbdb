"""Email preferences by the marketplace's user id (re-subscribing after a one-click unsubscribe)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from peerguard.web.api.models import Strict
from peerguard.web.auth import require
from peerguard.web.errors import ApiError
from usecases import notices

router = APIRouter(prefix="/v1", tags=["email preferences"], dependencies=[Depends(require("ingest"))])


class PreferencesIn(Strict):
    response_reminders: bool


class PreferencesOut(BaseModel):
    id: str
    response_reminders: bool


@router.put("/users/{user_id}/email-preferences", response_model=PreferencesOut)
def put_preferences(user_id: str, body: PreferencesIn, request: Request) -> PreferencesOut:
    """Switch response reminders on (re-subscribe) or off; breach notices are always sent."""
    if not notices.set_reminders(request.app.state.peerguard, user_id, body.response_reminders, datetime.now(UTC)):
        raise ApiError(404, "not_found", f"unknown user {user_id!r}")
    return PreferencesOut(id=user_id, response_reminders=body.response_reminders)
