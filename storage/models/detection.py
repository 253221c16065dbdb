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
    scope: Mapped[str] = mapped_column(String(16))  # "message", "conversation" or "attachment"
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(500))
    match: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    detector_version: Mapped[str] = mapped_column(String(32))
    spans: Mapped[list] = mapped_column(JSON)  # [{"message_id": int, "start": int, "end": int}]
    message_ids: Mapped[list] = mapped_column(JSON)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Attachment findings: which file (SHA-256), which page (0-based) and region [l, t, r, b] in pixels.
    attachment_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    region: Mapped[list | None] = mapped_column(JSON, nullable=True)


class AttachmentScan(Base):
    """The outcome of reading one attachment: ``scanned`` or ``unreadable`` with a reason."""

    __tablename__ = "attachment_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    method: Mapped[str] = mapped_column(String(16))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    findings: Mapped[int] = mapped_column(Integer, default=0)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime())
