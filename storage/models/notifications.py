"""Dashboard notifications: one row per (recipient, conversation), holding the unread streak."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class Notification(Base):
    """What a recipient has not read in one conversation; ``unread_count`` 0 means read (the row stays)."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("recipient_id", "conversation_id", name="recipient_conversation"),
        # The new-message sweep reads only rows with an email to decide; read rows drop out.
        Index("ix_notifications_email_due", "email_due_at",
              postgresql_where=text("email_due_at IS NOT NULL"), sqlite_where=text("email_due_at IS NOT NULL")),
        # A user's dashboard, newest first.
        Index("ix_notifications_recipient_latest", "recipient_id", "latest_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    first_unread_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    latest_at: Mapped[datetime] = mapped_column(UTCDateTime())
    latest_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the sweep should next look at this streak's email; null: nothing to decide.
    email_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last new-message email of this streak and the newest message it covered (reset by reading).
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    emailed_through: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
