"""Queries of the attachment scanning stage: which attachments are unread, storing their outcome."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Attachment, AttachmentScan, ContactFinding, Message
from storage.scanning import insert_finding_rows


@dataclass(frozen=True)
class PendingAttachment:
    """An attachment not read yet, with the message and conversation it belongs to."""

    id: int
    message_id: int
    conversation_id: int
    sha256: str
    blob_key: str
    name: str


@dataclass(frozen=True)
class AttachmentFindingRecord:
    """A finding in an attachment ready to store: kind, value, match, score, page and region."""

    kind: str
    value: str
    match: str
    score: float
    detector_version: str
    page: int
    region: tuple[int, int, int, int] | None

    def fingerprint(self, message_id: int, sha256: str) -> str:
        """Identity across re-scans: the same file in the same message yields the same row."""
        key = json.dumps(["attachment", message_id, sha256, self.kind, self.value, self.detector_version, self.page,
                          list(self.region) if self.region else None])
        return hashlib.sha256(key.encode()).hexdigest()


def pending_ids(session: Session, limit: int) -> list[int]:
    """Attachments without a scan outcome, oldest first."""
    query = (
        select(Attachment.id).outerjoin(AttachmentScan, AttachmentScan.attachment_id == Attachment.id)
        .where(AttachmentScan.id.is_(None)).order_by(Attachment.id).limit(limit)
    )
    return list(session.scalars(query))


def load_pending(session: Session, ids: Sequence[int]) -> list[PendingAttachment]:
    """These attachments, skipping those read meanwhile (and, on PostgreSQL, those another worker holds)."""
    query = (
        select(Attachment.id, Attachment.message_id, Message.conversation_id, Attachment.sha256, Attachment.blob_key,
               Attachment.original_name)
        .join(Message, Message.id == Attachment.message_id)
        .outerjoin(AttachmentScan, AttachmentScan.attachment_id == Attachment.id)
        .where(Attachment.id.in_(list(ids)), AttachmentScan.id.is_(None))
        .order_by(Attachment.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Attachment)
    return [PendingAttachment(*row) for row in session.execute(query)]


def save_outcome(session: Session, attachment: PendingAttachment, status: str, reason: str | None, method: str, pages: int,
                 findings: Sequence[AttachmentFindingRecord], now: datetime) -> list[int]:
    """Record the scan outcome and its findings (once each); return the new finding ids."""
    new_ids = _insert_findings(session, attachment, findings, now)
    session.add(AttachmentScan(attachment_id=attachment.id, sha256=attachment.sha256, status=status, reason=reason,
                               method=method, pages=pages, findings=len(findings), scanned_at=now))
    session.flush()
    return new_ids


def _insert_findings(session: Session, attachment: PendingAttachment, findings: Sequence[AttachmentFindingRecord],
                     now: datetime) -> list[int]:
    rows = {}
    for record in findings:
        fingerprint = record.fingerprint(attachment.message_id, attachment.sha256)
        rows[fingerprint] = dict(
            fingerprint=fingerprint, conversation_id=attachment.conversation_id, message_id=attachment.message_id,
            scope="attachment", kind=record.kind, value=record.value[:500], match=record.match, score=record.score,
            detector_version=record.detector_version, spans=[], message_ids=[attachment.message_id], found_at=now,
            attachment_sha256=attachment.sha256, page=record.page, region=list(record.region) if record.region else None,
        )
    return insert_finding_rows(session, rows)


def outcome_for(session: Session, attachment_id: int) -> AttachmentScan | None:
    """The stored outcome of one attachment, if it was read."""
    return session.scalar(select(AttachmentScan).where(AttachmentScan.attachment_id == attachment_id))


@dataclass(frozen=True)
class AttachmentPlace:
    """Where an attachment finding was read: the file's name, its page and the region in its pixels,
    and which attachment that is (its message's marketplace id and position, hash and blob)."""

    name: str
    page: int
    region: list[int] | None
    message_id: str = ""
    position: int = 0
    sha256: str = ""
    blob_key: str = ""


def places_of(session: Session, finding_ids: Sequence[int]) -> dict[int, AttachmentPlace]:
    """The attachment, page and region of each attachment finding among ``finding_ids``."""
    if not finding_ids:
        return {}
    rows = session.execute(
        select(ContactFinding.id, Attachment.original_name, ContactFinding.page, ContactFinding.region,
               Message.external_id, Attachment.position, Attachment.sha256, Attachment.blob_key)
        .join(Attachment, (Attachment.message_id == ContactFinding.message_id) & (Attachment.sha256 == ContactFinding.attachment_sha256))
        .join(Message, Message.id == Attachment.message_id)
        .where(ContactFinding.id.in_(list(finding_ids)), ContactFinding.scope == "attachment")
        .order_by(ContactFinding.id, Attachment.position)
    )
    places: dict[int, AttachmentPlace] = {}
    for finding_id, name, page, region, message_id, position, sha256, blob_key in rows:
        places.setdefault(finding_id, AttachmentPlace(name, page or 0, list(region) if region else None,
                                                      message_id, position, sha256, blob_key))
    return places
