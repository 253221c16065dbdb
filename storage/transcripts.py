"""Transcript storage: load a conversation for the renderer, and keep transcript requests."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pipeline.transcript import (
    GENERATOR_VERSION,
    AttachmentRegion,
    SenderRole,
    TranscriptAttachment,
    TranscriptConversation,
    TranscriptFinding,
    TranscriptMessage,
    TranscriptParty,
)
from storage.models import ContactFinding, Conversation, Message, TranscriptRequest


class ConversationNotFound(LookupError):
    """No conversation has that external id."""


def find_conversation_id(session: Session, external_id: str) -> int:
    """Return the database id of a conversation, or raise ConversationNotFound."""
    found = session.scalar(select(Conversation.id).where(Conversation.external_id == external_id))
    if found is None:
        raise ConversationNotFound(external_id)
    return found


class OrderNotFound(LookupError):
    """No conversation belongs to that marketplace order."""


class AmbiguousOrder(LookupError):
    """More than one conversation belongs to that marketplace order."""


def find_conversation_for_order(session: Session, order_ref: str) -> str:
    """Return the external id of the one conversation about a marketplace order."""
    found = list(session.scalars(
        select(Conversation.external_id).where(Conversation.order_ref == order_ref).order_by(Conversation.external_id)
        .limit(11)
    ))
    if not found:
        raise OrderNotFound(order_ref)
    if len(found) > 1:
        raise AmbiguousOrder(order_ref, found[:10])
    return found[0]


def load_transcript_conversation(session: Session, conversation_id: int) -> TranscriptConversation:
    """Load a conversation with its messages, attachments and findings as pipeline values."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise ConversationNotFound(str(conversation_id))
    messages = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.sent_at, Message.id)
        .options(selectinload(Message.attachments), selectinload(Message.sender))
    ).all()
    findings = findings_by_message(session, conversation_id, {m.id: m.body for m in messages})
    regions = attachment_regions(session, conversation_id)
    return TranscriptConversation(
        external_id=conversation.external_id,
        order_ref=conversation.order_ref,
        subject=conversation.subject or "",
        buyer=TranscriptParty(conversation.buyer.external_id, conversation.buyer.name, conversation.buyer.timezone),
        seller=TranscriptParty(conversation.seller.external_id, conversation.seller.name, conversation.seller.timezone),
        messages=tuple(_message(m, conversation.buyer_id, findings.get(m.id, ()), regions) for m in messages),
    )


def _message(message: Message, buyer_id: int, findings: Sequence[TranscriptFinding],
             regions: dict[tuple[int, str], list[AttachmentRegion]]) -> TranscriptMessage:
    # Anyone who is not the buyer writes on the seller's side (the seller, or staff on their behalf).
    role = SenderRole.BUYER if message.sender_id == buyer_id else SenderRole.SELLER
    return TranscriptMessage(
        external_id=message.external_id,
        sender_role=role,
        sender_name=message.sender.name,
        sent_at=message.sent_at,
        body=message.body,
        findings=tuple(findings),
        attachments=tuple(
            TranscriptAttachment(a.original_name, a.content_type, a.size, a.sha256, a.blob_key,
                                 tuple(regions.get((message.id, a.sha256.lower()), ())))
            for a in message.attachments
        ),
    )


def attachment_regions(session: Session, conversation_id: int) -> dict[tuple[int, str], list[AttachmentRegion]]:
    """The regions of the conversation's attachment findings, by message row id and the file's SHA-256."""
    rows = session.execute(
        select(ContactFinding.message_id, ContactFinding.attachment_sha256, ContactFinding.kind, ContactFinding.page,
               ContactFinding.region)
        .where(ContactFinding.conversation_id == conversation_id, ContactFinding.scope == "attachment",
               ContactFinding.region.is_not(None))
        .order_by(ContactFinding.id)
    )
    found: dict[tuple[int, str], list[AttachmentRegion]] = defaultdict(list)
    for message_id, sha256, kind, page, region in rows:
        if sha256 and region and len(region) == 4:
            found[(message_id, sha256.lower())].append(AttachmentRegion(kind, page or 0, tuple(int(v) for v in region)))
    return found


def findings_by_message(
    session: Session, conversation_id: int, bodies: dict[int, str]
) -> dict[int, list[TranscriptFinding]]:
    """Spread each stored contact finding over the messages its spans point into."""
    found: dict[int, list[TranscriptFinding]] = defaultdict(list)
    rows = session.scalars(
        select(ContactFinding).where(ContactFinding.conversation_id == conversation_id).order_by(ContactFinding.id)
    )
    for row in rows:
        for span in row.spans or [{"message_id": row.message_id, "start": 0, "end": 0}]:
            body = bodies.get(span.get("message_id"))
            if body is None:
                continue
            start, end = int(span.get("start", 0)), int(span.get("end", 0))
            found[span["message_id"]].append(
                TranscriptFinding(row.kind, start, end, body[start:end] or row.match, row.score))
    return found


def content_fingerprint(conversation: TranscriptConversation, chain_head: str, evidence: bool,
                        around_message_ids: Sequence[str], requested_by: str = "", signed: bool = False) -> str:
    """Return the reuse key: same chain, findings, options, requester and generator mean the same PDF."""
    findings = [(m.external_id, f.kind, f.start, f.end, f.score) for m in conversation.messages for f in m.findings]
    document = {
        "chain_head": chain_head,
        "messages": len(conversation.messages),
        "findings": hashlib.sha256(json.dumps(findings).encode()).hexdigest(),
        "evidence": evidence,
        "around": sorted(around_message_ids) if evidence else [],
        "generator": GENERATOR_VERSION,
        # The requester is printed on the PDF, and a signed file must not stand in for an unsigned one.
        "requested_by": requested_by,
        "signed": signed,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def create_request(session: Session, conversation_id: int, requested_by: str, now: datetime,
                   evidence: bool, around_message_ids: Sequence[str]) -> TranscriptRequest:
    """Record a new pending request and return it (flushed, so it has an id)."""
    request = TranscriptRequest(
        conversation_id=conversation_id, requested_by=requested_by, requested_at=now,
        evidence=evidence, around_message_ids=list(around_message_ids), status="pending",
    )
    session.add(request)
    session.flush()
    return request


def lock_request(session: Session, request_id: int) -> TranscriptRequest | None:
    """Return the request, row-locked on PostgreSQL so two workers never render it twice."""
    return session.scalar(select(TranscriptRequest).where(TranscriptRequest.id == request_id).with_for_update())


def reusable_request(session: Session, conversation_id: int, fingerprint: str) -> TranscriptRequest | None:
    """Return the newest finished request with the same fingerprint, if any."""
    return session.scalar(
        select(TranscriptRequest)
        .where(TranscriptRequest.conversation_id == conversation_id,
               TranscriptRequest.fingerprint == fingerprint,
               TranscriptRequest.status == "done")
        .order_by(TranscriptRequest.id.desc())
        .limit(1)
    )


def unfinished_request_ids(session: Session, created_before: datetime) -> list[int]:
    """Requests not yet done or failed, made before ``created_before``, oldest first."""
    return list(session.scalars(
        select(TranscriptRequest.id)
        .where(TranscriptRequest.status.in_(("pending", "rendering")), TranscriptRequest.requested_at < created_before)
        .order_by(TranscriptRequest.id)
    ))


MAX_ROW_ID = 2**31 - 1
"""The largest value of an INTEGER primary key."""


def request_with_conversation(session: Session, request_id: int) -> tuple[TranscriptRequest, str] | None:
    """A transcript request and its conversation's external id; None for an id no row can have."""
    if not 0 < request_id <= MAX_ROW_ID:
        return None  # PostgreSQL would refuse the comparison with an out-of-range integer
    row = session.execute(
        select(TranscriptRequest, Conversation.external_id)
        .join(Conversation, Conversation.id == TranscriptRequest.conversation_id)
        .where(TranscriptRequest.id == request_id)
    ).first()
    return (row[0], row[1]) if row else None
