"""Dashboard notifications by the marketplace's user id: list (newest first, paginated) and mark all read."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from peerguard.web.auth import require
from peerguard.web.errors import ApiError
from usecases import notifications

router = APIRouter(prefix="/v1", tags=["notifications"])


class NotificationOut(BaseModel):
    conversation: str
    subject: str | None
    sender: str
    sender_name: str
    unread_count: int
    first_unread_at: datetime | None
    latest_at: datetime
    latest_message: str | None
    read_at: datetime | None


class NotificationsOut(BaseModel):
    user: str
    unread_conversations: int
    unread_messages: int
    notifications: list[NotificationOut]
    next_cursor: str | None


class MarkedRead(BaseModel):
    user: str
    marked_read: int


@router.get("/users/{user_id}/notifications", response_model=NotificationsOut, dependencies=[Depends(require("read"))])
def list_notifications(user_id: str, request: Request, unread: bool = False,
                       limit: int = Query(50, ge=1, le=notifications.MAX_PAGE),
                       cursor: str | None = Query(None, max_length=100)) -> NotificationsOut:
    """One row per conversation with the user's unread streak, newest first; ``next_cursor`` fetches the next page."""
    found = notifications.list_for_user(request.app.state.peerguard, user_id, unread, limit + 1, _decode(cursor))
    if found is None:
        raise ApiError(404, "not_found", f"unknown user {user_id!r}")
    rows, (conversations, messages) = found
    page, rest = rows[:limit], rows[limit:]
    return NotificationsOut(
        user=user_id, unread_conversations=conversations, unread_messages=messages,
        notifications=[NotificationOut(conversation=r.conversation, subject=r.subject, sender=r.sender,
                                       sender_name=r.sender_name, unread_count=r.unread_count,
                                       first_unread_at=r.first_unread_at, latest_at=r.latest_at,
                                       latest_message=r.latest_message, read_at=r.read_at) for r in page],
        next_cursor=_encode(page[-1].latest_at, page[-1].id) if rest else None,
    )


@router.post("/users/{user_id}/notifications/read", response_model=MarkedRead, dependencies=[Depends(require("ingest"))])
def mark_all_read(user_id: str, request: Request) -> MarkedRead:
    """Mark every notification of the user read (no new-message email follows for those streaks)."""
    changed = notifications.mark_all_read(request.app.state.peerguard, user_id, datetime.now(UTC))
    if changed is None:
        raise ApiError(404, "not_found", f"unknown user {user_id!r}")
    return MarkedRead(user=user_id, marked_read=changed)


def _encode(at: datetime, row_id: int) -> str:
    # Opaque to clients; a keyset (time, row) so a page never repeats or skips a row that moved.
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    try:
        at, _, row_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError
        return moment, int(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(422, "invalid", "the cursor is not one this API gave out", "cursor") from None
