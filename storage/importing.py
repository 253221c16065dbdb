"""Import interchange files idempotently: per-line savepoints, batched commits, blobs first."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.files import SNIFF_BYTES, sniff_content_type
from pipeline.interchange import (
    AttachmentRef,
    ConversationRecord,
    InterchangeError,
    MessageRecord,
    UserRecord,
    parse_line,
)
from storage.blobs import BlobStore, BlobTooLarge
from storage.models import Attachment, Conversation, Message, User

MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class LineOutcome:
    """What happened to one input line: created, updated, unchanged or error."""

    line_no: int
    status: str
    kind: str | None = None
    external_id: str | None = None
    error: str | None = None


@dataclass
class ImportReport:
    """Totals of an import, the per-line errors, and the ids of the messages it created."""

    counts: dict[str, int] = field(default_factory=dict)
    errors: list[LineOutcome] = field(default_factory=list)

    def add(self, outcome: LineOutcome) -> None:
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        if outcome.status == "error":
            self.errors.append(outcome)


class ImportRejected(Exception):
    """A line's content is valid JSON but cannot be applied (dangling reference, conflict)."""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class InterchangeImporter:
    """Applies interchange lines to the database; one savepoint per line, one commit per batch."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        blobs: BlobStore,
        base_dir: Path,
        *,
        clock: Callable[[], datetime] = _utcnow,
        batch_size: int = 500,
        max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
    ) -> None:
        self.session_factory = session_factory
        self.blobs = blobs
        self.base_dir = base_dir.resolve()
        self.clock = clock
        self.batch_size = batch_size
        self.max_attachment_bytes = max_attachment_bytes

    def import_lines(
        self, lines: Iterable[bytes], on_commit: Callable[[list[int]], None] = lambda ids: None
    ) -> Iterator[LineOutcome]:
        """Import numbered lines; after each commit, hand the new message ids to ``on_commit``."""
        batch: list[tuple[int, bytes]] = []
        for line_no, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            batch.append((line_no, raw))
            if len(batch) >= self.batch_size:
                yield from self._import_batch(batch, on_commit)
                batch = []
        if batch:
            yield from self._import_batch(batch, on_commit)

    def _import_batch(
        self, batch: list[tuple[int, bytes]], on_commit: Callable[[list[int]], None]
    ) -> list[LineOutcome]:
        outcomes: list[LineOutcome] = []
        new_messages: list[int] = []
        try:
            with self.session_factory() as session, session.begin():
                for line_no, raw in batch:
                    outcomes.append(self._import_one(session, line_no, raw, new_messages))
        except SQLAlchemyError as exc:
            # The commit itself failed: nothing of this batch was stored, so say so per line.
            reason = f"not stored, the batch's commit failed: {exc.__class__.__name__}"
            return [LineOutcome(o.line_no, "error", o.kind, o.external_id, reason) for o in outcomes]
        if new_messages:
            on_commit(new_messages)
        return outcomes

    def _import_one(self, session: Session, line_no: int, raw: bytes, new_messages: list[int]) -> LineOutcome:
        try:
            record = parse_line(raw)
        except InterchangeError as exc:
            return LineOutcome(line_no, "error", error=str(exc))
        kind = type(record).__name__.removesuffix("Record").lower()
        try:
            with session.begin_nested():
                status = self._apply(session, record, new_messages)
        except (ImportRejected, InterchangeError) as exc:
            return LineOutcome(line_no, "error", kind, record.external_id, str(exc))
        except SQLAlchemyError as exc:
            return LineOutcome(line_no, "error", kind, record.external_id, f"database refused it: {exc.__class__.__name__}")
        return LineOutcome(line_no, status, kind, record.external_id)

    def _apply(self, session: Session, record, new_messages: list[int]) -> str:
        if isinstance(record, UserRecord):
            return self._apply_user(session, record)
        if isinstance(record, ConversationRecord):
            return self._apply_conversation(session, record)
        return self._apply_message(session, record, new_messages)

    def _apply_user(self, session: Session, record: UserRecord) -> str:
        user = _by_external_id(session, User, record.external_id)
        values = {"name": record.name, "email": record.email, "timezone": record.timezone, "away": record.away}
        if record.role is not None:
            values["role"] = record.role
        if user is None:
            session.add(User(external_id=record.external_id, **values))
            session.flush()
            return "created"
        return _update_fields(user, values)

    def _apply_conversation(self, session: Session, record: ConversationRecord) -> str:
        buyer = _require(session, User, record.buyer, "buyer")
        seller = _require(session, User, record.seller, "seller")
        conversation = _by_external_id(session, Conversation, record.external_id)
        values = {"subject": record.subject, "order_ref": record.order_ref}
        if conversation is None:
            session.add(Conversation(external_id=record.external_id, buyer_id=buyer.id, seller_id=seller.id, **values))
            session.flush()
            return "created"
        if (conversation.buyer_id, conversation.seller_id) != (buyer.id, seller.id):
            raise ImportRejected(f"conversation {record.external_id!r} already exists with other participants")
        return _update_fields(conversation, values)

    def _apply_message(self, session: Session, record: MessageRecord, new_messages: list[int]) -> str:
        conversation = _require(session, Conversation, record.conversation, "conversation")
        sender = _require(session, User, record.sender, "sender")
        if sender.id not in (conversation.buyer_id, conversation.seller_id):
            raise ImportRejected(f"sender {record.sender!r} is not a participant of {record.conversation!r}")
        existing = _by_external_id(session, Message, record.external_id)
        if existing is not None:
            same = (existing.conversation_id, existing.sender_id, existing.body, existing.sent_at) == (
                conversation.id, sender.id, record.text, record.sent_at)
            if not same:
                raise ImportRejected(f"message {record.external_id!r} already exists with other content; messages are immutable")
            return "unchanged"
        message = Message(
            external_id=record.external_id, conversation_id=conversation.id, sender_id=sender.id,
            body=record.text, sent_at=record.sent_at, recorded_at=self.clock(),
        )
        session.add(message)
        session.flush()
        for position, ref in enumerate(record.attachments):
            session.add(self._store_attachment(message.id, position, ref))
        session.flush()
        new_messages.append(message.id)
        return "created"

    def _store_attachment(self, message_id: int, position: int, ref: AttachmentRef) -> Attachment:
        path = self._resolve(ref)
        try:
            with path.open("rb") as stream:
                head = stream.read(SNIFF_BYTES)
                stream.seek(0)
                key, size = self.blobs.put_stream(stream, self.max_attachment_bytes)
        except BlobTooLarge:
            raise ImportRejected(f"attachment {str(ref.path)!r} is larger than {self.max_attachment_bytes} bytes") from None
        except OSError as exc:
            raise ImportRejected(f"attachment {str(ref.path)!r} cannot be read: {exc.strerror or exc}") from None
        return Attachment(
            message_id=message_id, position=position, original_name=ref.name,
            content_type=sniff_content_type(head), size=size, sha256=key, blob_key=key,
        )

    def _resolve(self, ref: AttachmentRef) -> Path:
        candidate = self.base_dir.joinpath(*ref.path.parts)
        try:
            resolved = candidate.resolve(strict=True)
        except (FileNotFoundError, RuntimeError):
            raise ImportRejected(f"attachment {str(ref.path)!r} does not exist") from None
        # A symlink inside the folder may still point outside it.
        if not resolved.is_relative_to(self.base_dir):
            raise ImportRejected(f"attachment {str(ref.path)!r} leaves the import folder")
        if not resolved.is_file():
            raise ImportRejected(f"attachment {str(ref.path)!r} is not a regular file")
        return resolved


def _by_external_id(session: Session, model, external_id: str):
    return session.scalar(select(model).where(model.external_id == external_id))


def _require(session: Session, model, external_id: str, role: str):
    found = _by_external_id(session, model, external_id)
    if found is None:
        raise ImportRejected(f"{role} {external_id!r} is not defined earlier in the file or stored")
    return found


def _update_fields(obj, values: dict) -> str:
    changed = {k: v for k, v in values.items() if getattr(obj, k) != v}
    for key, value in changed.items():
        setattr(obj, key, value)
    return "updated" if changed else "unchanged"
