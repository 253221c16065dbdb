"""Review: the trust-and-safety queue's workflow (housekeeping so far; decisions move here next)."""

from __future__ import annotations

from datetime import datetime

from storage.db import transaction
from storage.review import expire_restrictions
from usecases.app import App


def housekeeping(app: App, now: datetime) -> dict[str, int]:
    """Lift restrictions whose strikes have aged out of the window, as of ``now``."""
    with transaction(app.session_factory) as session:
        lifted = expire_restrictions(session, app.settings, now)
    return {"restrictions_lifted": len(lifted)} if lifted else {}
