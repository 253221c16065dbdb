"""Dispute transcript requests: who asked for which conversation, and the PDF that answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, UTCDateTime
from storage.models.core import Conversation

TRANSCRIPT_STATUSES = ("pending", "rendering", "done", "failed")


class TranscriptRequest(Base):
    """One request for a transcript; a done request points at a PDF in the data directory.

    ``fingerprint`` covers the conversation's chain head, its message count and the render
    options, so a request for an unchanged conversation reuses an earlier file instead of
    rendering again.
    """

    __tablename__ = "transcript_requests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'rendering', 'done', 'failed')", name="status_known"
        ),
        Index("ix_transcript_requests_reuse", "conversation_id", "fingerprint", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    evidence: Mapped[bool] = mapped_column(Boolean, default=False)
    around_message_ids: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    chain_head: Mapped[str | None] = mapped_column(String(64))
    message_count: Mapped[int | None] = mapped_column(Integer)
    pdf_path: Mapped[str | None] = mapped_column(String(500))  # relative to the data directory
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    pages: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    reused_from_id: Mapped[int | None] = mapped_column(ForeignKey("transcript_requests.id", ondelete="SET NULL"))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)

    conversation: Mapped[Conversation] = relationship()
