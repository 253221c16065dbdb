"""The transactional email outbox shared by every notice (reminders, review alerts…)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime

OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "dead")


class OutboxEmail(Base):
    """One email to send exactly once, written in the same transaction as the change it reports."""

    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed', 'dead')", name="status_known"
        ),
        # The dispatcher only looks at rows still waiting to go out (or whose lease expired),
        # so sent and dead history does not slow the claim query down.
        Index(
            "ix_email_outbox_pending",
            "next_attempt_at",
            postgresql_where=text("status IN ('queued', 'failed', 'sending')"),
            sqlite_where=text("status IN ('queued', 'failed', 'sending')"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice: Mapped[str] = mapped_column(String(64))
    recipient_address: Mapped[str] = mapped_column(String(320))
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claim_token: Mapped[str | None] = mapped_column(String(36))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Written just before the DATA terminator goes out: the point after which the server may
    # have accepted the message, so a dispatcher that dies past it leaves an "outcome unknown".
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimer: Mapped[str | None] = mapped_column(String(36))
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxClaimer(Base):
    """A running dispatcher: its claims are released soon after its heartbeat stops."""

    __tablename__ = "outbox_claimers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxStatusCount(Base):
    """A signed change to the number of emails in one status; the sum per status is the count.

    Written only by the triggers on ``email_outbox`` (migration 0017), in the transaction of the
    change; ``storage.outbox.compact_status_counts`` folds the rows into one per status.
    """

    __tablename__ = "email_outbox_counts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    n: Mapped[int] = mapped_column(BigInteger)
