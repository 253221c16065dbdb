"""Messages in: users, conversations, messages (by the marketplace's ids), batches, attachments, read receipts."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from peerguard.web.api.models import BatchIn, BatchOut, BatchResult, ConversationIn, MessageIn, ReadIn, Stored, UploadOut, UserIn
from peerguard.web.auth import require
from peerguard.web.errors import ApiError
from storage.blobs import BlobTooLarge
from usecases import importing

router = APIRouter(prefix="/v1", tags=["messages in"], dependencies=[Depends(require("ingest"))])
PROBLEM_STATUS = {"invalid": 422, "rejected": 422, "conflict": 409}


async def _put(request: Request, response: Response, record: dict[str, Any]) -> Stored:
    # Concurrent single-record requests of this process share one transaction (group commit);
    # this request is answered once the transaction holding its record committed.
    outcome = await request.app.state.ingest_group.submit(record)
    if outcome.problem:
        raise ApiError(PROBLEM_STATUS[outcome.problem], outcome.problem, outcome.error or outcome.problem)
    response.status_code = 201 if outcome.status == "created" else 200
    return Stored(id=outcome.external_id or record["id"], status=outcome.status)


def _record(kind: str, external_id: str, body: dict[str, Any]) -> dict[str, Any]:
    if not external_id or len(external_id) > 128:
        raise ApiError(422, "invalid", "the id must be 1 to 128 characters", "id")
    return {**body, "type": kind, "id": external_id}


@router.put("/users/{user_id}", response_model=Stored, status_code=200,
            responses={201: {"model": Stored, "description": "created"}})
async def put_user(user_id: str, body: UserIn, request: Request, response: Response) -> Stored:
    """Create or update a user (a repeat answers 200 unchanged)."""
    return await _put(request, response, _record("user", user_id, body.model_dump(exclude_none=True)))


@router.put("/conversations/{conversation_id}", response_model=Stored, status_code=200,
            responses={201: {"model": Stored, "description": "created"}})
async def put_conversation(conversation_id: str, body: ConversationIn, request: Request, response: Response) -> Stored:
    """Create or update a conversation between a buyer and a seller."""
    return await _put(request, response, _record("conversation", conversation_id, body.model_dump(exclude_none=True)))


@router.put("/messages/{message_id}", response_model=Stored, status_code=200,
            responses={201: {"model": Stored, "description": "created"}, 409: {"description": "another text under this id"}})
async def put_message(message_id: str, body: MessageIn, request: Request, response: Response) -> Stored:
    """Record a message (immutable: the same id with another text is 409); it is scanned after the commit."""
    data = body.model_dump(mode="json")
    data["sent_at"] = body.sent_at.isoformat()
    return await _put(request, response, _record("message", message_id, data))


@router.post("/conversations/{conversation_id}/read", response_model=Stored)
async def mark_read(conversation_id: str, body: ReadIn, request: Request, response: Response) -> Stored:
    """Record that a participant read the conversation up to ``at``."""
    record = {"type": "read", "conversation": conversation_id, "user": body.user, "at": body.at.isoformat()}
    stored = await _put(request, response, record)
    response.status_code = 200
    return Stored(id=conversation_id, status=stored.status)


@router.post("/batch", response_model=BatchOut)
def batch(body: BatchIn, request: Request) -> BatchOut:
    """Up to 1,000 records (each with type and id, as in the import format), applied in order, answered per record."""
    outcomes = importing.ingest(request.app.state.peerguard, body.records, datetime.now(UTC))
    return BatchOut(results=[
        BatchResult(index=i, id=o.external_id, status=o.status,
                    error={"code": o.problem, "message": o.error or ""} if o.problem else None)
        for i, o in enumerate(outcomes)
    ])


@router.post("/attachments", response_model=UploadOut, status_code=201,
             openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                                                        "multipart/form-data": {"schema": {"type": "object", "properties": {
                                                            "file": {"type": "string", "format": "binary"}}}}}}})
async def upload(request: Request) -> UploadOut:
    """Upload a file (raw body or multipart field ``file``, up to 50 MiB); messages then name it by SHA-256."""
    spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)
    try:
        await _receive_file(request, spool)
        spool.seek(0)
        try:
            stored = importing.store_upload(request.app.state.peerguard, spool)
        except BlobTooLarge:
            raise ApiError(413, "too_large", f"attachments are limited to {importing.MAX_ATTACHMENT_BYTES} bytes") from None
    finally:
        spool.close()
    return UploadOut(sha256=stored.sha256, size=stored.size, content_type=stored.content_type)


async def _receive_file(request: Request, spool) -> None:
    kind = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=4, max_part_size=importing.MAX_ATTACHMENT_BYTES)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "invalid", "the multipart body needs a file field named 'file'", "file")
        while chunk := await upload.read(1 << 20):
            spool.write(chunk)
        return
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > importing.MAX_ATTACHMENT_BYTES:
            raise ApiError(413, "too_large", f"attachments are limited to {importing.MAX_ATTACHMENT_BYTES} bytes")
        spool.write(chunk)
    if size == 0:
        raise ApiError(422, "invalid", "the request body is empty")
