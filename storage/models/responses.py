"""Seller response deadlines, their event log, and sellers' email preferences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class ResponseDeadline(Base):
    """One reply a seller owes in a conversation, from the buyer message that started the clock."""

    __tablename__ = "response_deadlines"
    __table_args__ = (
        UniqueConstraint("conversation_id", "started_by_message_id"),
        # The due-sweep reads only rows that still have a next stage; answered, superseded and
        # breached deadlines drop out of this index, so its size tracks open work, not history.
        Index(
            "ix_response_deadlines_due",
            "next_due_at",
            postgresql_where=text("next_due_at IS NOT NULL"),
            sqlite_where=text("next_due_at IS NOT NULL"),
        ),
        Index("ix_response_deadlines_seller_started", "seller_id", "started_at"),
        # `sellers stats` reads the deadlines started in its window; on PostgreSQL the index holds
        # every column it needs (an index-only scan), superseded deadlines left out (migration 0017).
        Index(
            "ix_response_deadlines_started",
            "started_at",
            postgresql_include=["seller_id", "answered_at", "away"],
            postgresql_where=text("superseded_at IS NULL"),
            sqlite_where=text("superseded_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_by_message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    response_seconds: Mapped[int | None] = mapped_column(Integer)
    stage_sent: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ResponseDeadlineEvent(Base):
    """An append-only record of what happened to a deadline (opened, stage, held, answered…)."""

    __tablename__ = "response_deadline_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("response_deadlines.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    stage: Mapped[int | None] = mapped_column(SmallInteger)
    detail: Mapped[str | None] = mapped_column(String(500))


class EmailPreference(Base):
    """A user's email choices; a missing row means the defaults (reminders on)."""

    __tablename__ = "email_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    response_reminders_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ResponseSyncCursor(Base):
    """How far the response sweep has read the messages table (one row, id 1)."""

    __tablename__ = "response_sync_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_message_id: Mapped[int] = mapped_column(Integer, default=0)
