"""Users: lookups by the marketplace's ids and by email."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import User


def user_id_by_email(session: Session, email: str) -> int | None:
    """The first user with this email (case-insensitive), or None."""
    return session.scalar(select(User.id).where(func.lower(User.email) == email.strip().lower()).order_by(User.id).limit(1))


def user_id_by_external_id(session: Session, external_id: str) -> int | None:
    """The user the marketplace calls ``external_id`` (``u-17``), or None."""
    return session.scalar(select(User.id).where(User.external_id == external_id))
