"""Stored detector output: one row per contact finding, unique per fingerprint."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class ContactFinding(Base):
    """An off-platform contact or payment attempt found in one message or across several.

    ``fingerprint`` makes re-scanning idempotent: the same finding (scope, kind, value, spans,
    detector version) is stored once however often a message is scanned.
    """

    __tablename__ = "contact_findings"
    __table_args__ = (Index("ix_contact_findings_kind_version", "kind", "detector_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    # The message the finding is anchored to: the newest message involved.
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(16))  # "message" or "conversation"
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(500))
    match: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    detector_version: Mapped[str] = mapped_column(String(32))
    spans: Mapped[list] = mapped_column(JSON)  # [{"message_id": int, "start": int, "end": int}]
    message_ids: Mapped[list] = mapped_column(JSON)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime())
