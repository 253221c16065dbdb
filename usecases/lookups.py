"""Lookups for the HTTP API: a message with its findings and review state, a user's standing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage import lookups as store
from usecases.app import App
from usecases.responses import seller_response_stats


def message(app: App, external_id: str) -> store.MessageView | None:
    with app.session_factory() as session:
        return store.message_view(session, external_id)


def user(app: App, external_id: str, now: datetime) -> dict[str, Any] | None:
    """Active strikes, restriction, whether suspension is recommended, and response statistics."""
    review = app.settings.review
    with app.session_factory() as session:
        view = store.user_view(session, external_id, now, now - review.window)
    if view is None:
        return None
    stats = seller_response_stats(app, now, view.email) if view.email else []
    return {
        "id": view.id, "name": view.name, "restricted": view.restricted,
        "active_strikes": view.active_strikes, "suspension_recommended": view.active_strikes >= review.suspend_at,
        "strikes": view.strikes,
        "response_stats": stats[0].stats.as_dict() if stats else None,
    }
