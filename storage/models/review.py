"""The trust-and-safety review queue: items, the signals that raised them, history and strikes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime

REVIEW_STATUSES = ("pending", "confirmed", "dismissed", "ignored", "merged")
RESOLVED_STATUSES = ("confirmed", "dismissed", "ignored")


class ReviewItem(Base):
    """One incident (findings sharing messages of one conversation) awaiting or past a staff decision.

    ``target_key`` is unique: ``incident:<conversation>:<lowest message>:<first finding>`` for
    items opened since migration 0011, ``message:<id>`` / ``window:<ids>`` for older ones. The
    item's messages are in ``review_item_messages``. ``version`` is bumped by every change so two
    reviewers cannot overwrite each other. A ``merged`` item was absorbed by ``merged_into_id``
    when an incident joined it to another; it keeps its history and strike but no signals.
    """

    __tablename__ = "review_items"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'confirmed', 'dismissed', 'ignored', 'merged')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_key: Mapped[str] = mapped_column(String(400), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    subject_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    score: Mapped[float] = mapped_column(Float)
    # The stored queue rank (see pipeline.review.queue_rank): severity, score, strikes and age.
    priority: Mapped[float] = mapped_column(Float)
    high_severity: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_note: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("review_items.id", ondelete="SET NULL"))


# The queue reads only pending items in priority order; resolved history (the vast majority of
# rows after a while) stays out of this index, so its size tracks open work, not history.
Index(
    "ix_review_items_queue",
    ReviewItem.priority.desc(),
    ReviewItem.opened_at,
    postgresql_where=text("status = 'pending'"),
    sqlite_where=text("status = 'pending'"),
)
# Decided items are listed per outcome, newest decision first (`review list --status confirmed`).
Index(
    "ix_review_items_decided",
    ReviewItem.status,
    ReviewItem.resolved_at.desc(),
    ReviewItem.id.desc(),
    postgresql_where=text("status <> 'pending'"),
    sqlite_where=text("status <> 'pending'"),
)


class ReviewItemMessage(Base):
    """A message of an item's incident: every message any of its signals spans.

    Keyed by message first, so the scanner finds the items a new finding overlaps with one index
    lookup; the second index serves the item side (moving messages on a merge, cascades).
    """

    __tablename__ = "review_item_messages"
    __table_args__ = (Index("ix_review_item_messages_item_id", "item_id"),)

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"), primary_key=True)


class ReviewSignal(Base):
    """A finding that raised (or re-raised) an item, with its own outcome once decided."""

    __tablename__ = "review_signals"
    __table_args__ = (Index("ix_review_signals_kind_version", "kind", "detector_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("contact_findings.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(500))
    detector_version: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    spans: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReviewHistory(Base):
    """An append-only log line: who (null = the system) did what to which item, and when."""

    __tablename__ = "review_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Null for actions about no item, such as granting the staff role.
    item_id: Mapped[int | None] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Strike(Base):
    """A policy strike against a sender, from one confirmed item; overturning keeps the row."""

    __tablename__ = "strikes"
    __table_args__ = (Index("ix_strikes_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    overturned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overturned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
