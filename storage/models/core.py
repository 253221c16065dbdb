"""The marketplace's messaging data: users, conversations, messages and attachments."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, UTCDateTime


class User(Base):
    """A marketplace member (buyer, seller or staff), known by the marketplace's external id."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    # "member" or "staff"; only staff may review flagged messages.
    role: Mapped[str] = mapped_column(String(16), default="member", server_default="member")
    # Set by the third strike in the escalation window; restricted senders' flags are high severity.
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # New-message emails: "immediate", "daily" (one digest at 08:00 local) or "off".
    notify: Mapped[str] = mapped_column(String(16), default="immediate", server_default="immediate")
    # The local day of the last digest sent (the outbox key keeps it to one a day regardless).
    last_digest_on: Mapped[date | None] = mapped_column(Date)


# Staff and sign-in match people by email case-insensitively (migration 0016).
Index("ix_users_email_lower", func.lower(User.email))


class Conversation(Base):
    """A direct-message thread between one buyer and one seller."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    subject: Mapped[str | None] = mapped_column(String(500))
    order_ref: Mapped[str | None] = mapped_column(String(128))

    buyer: Mapped[User] = relationship(foreign_keys=[buyer_id])
    seller: Mapped[User] = relationship(foreign_keys=[seller_id])


class Message(Base):
    """One direct message; ``scanned_at`` is null until the detection stage has seen it."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_sent", "conversation_id", "sent_at", "id"),
        # The catch-up sweep looks only at unscanned messages; keep that lookup small.
        Index(
            "ix_messages_unscanned",
            "recorded_at",
            postgresql_where=text("scanned_at IS NULL"),
            sqlite_where=text("scanned_at IS NULL"),
        ),
        # Likewise for the response-time sync: messages whose deadlines are not yet updated.
        Index(
            "ix_messages_deadline_unsynced",
            "id",
            postgresql_where=text("deadline_synced_at IS NULL"),
            sqlite_where=text("deadline_synced_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set once the response-time deadlines have seen this message. A per-message mark, not a
    # high-water id, because two importers can commit out of id order.
    deadline_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the marketplace may show: the body with identifiers replaced, once scanned.
    masked_body: Mapped[str | None] = mapped_column(Text)

    conversation: Mapped[Conversation] = relationship()
    sender: Mapped[User] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.position"
    )


class Attachment(Base):
    """A file shared in a message; its bytes live in the content-addressed blob store."""

    __tablename__ = "attachments"
    __table_args__ = (UniqueConstraint("message_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    blob_key: Mapped[str] = mapped_column(String(200))

    message: Mapped[Message] = relationship(back_populates="attachments")
