"""Transcripts over HTTP: request one (202 with a location), then poll it until it answers with the PDF."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from peerguard.web.api.models import TranscriptIn, TranscriptState
from peerguard.web.auth import require
from peerguard.web.errors import ApiError
from storage.transcripts import ConversationNotFound
from usecases import transcripts
from usecases.tokens import Principal

router = APIRouter(prefix="/v1", tags=["transcripts"])
Reader = Annotated[Principal, Depends(require("read"))]


@router.post("/conversations/{conversation_id}/transcripts", status_code=202, response_model=TranscriptState)
def request_transcript(conversation_id: str, request: Request, response: Response, principal: Reader,
                       body: TranscriptIn | None = None) -> TranscriptState:
    """Ask for the conversation's transcript; it renders on the workers; poll the Location."""
    body = body or TranscriptIn()
    who = f"api:{principal.name}" + (f" for {body.requested_by}" if body.requested_by else "")
    try:
        request_id = transcripts.request_transcript(request.app.state.peerguard, conversation_id, who,
                                                    datetime.now(UTC), evidence=body.evidence)
    except ConversationNotFound:
        raise ApiError(404, "not_found", f"unknown conversation {conversation_id!r}") from None
    response.headers["Location"] = f"/v1/transcripts/{request_id}"
    return TranscriptState(id=str(request_id), conversation=conversation_id, status="pending")


@router.get("/transcripts/{request_id}", dependencies=[Depends(require("read"))],
            responses={200: {"content": {"application/pdf": {}}, "description": "the PDF, once rendered"},
                       202: {"model": TranscriptState, "description": "still rendering"}})
def get_transcript(request_id: int, request: Request):
    """While rendering: 202 with the state. Done: the PDF, its SHA-256 in ``X-Content-SHA256``."""
    state = transcripts.request_state(request.app.state.peerguard, request_id)
    if state is None:
        raise ApiError(404, "not_found", f"unknown transcript {request_id}")
    outcome, conversation = state
    if outcome.status == "failed":
        raise ApiError(409, "transcript_failed", f"the transcript could not be rendered: {outcome.error}")
    if outcome.status != "done" or outcome.pdf_path is None:
        body = TranscriptState(id=str(request_id), conversation=conversation, status=outcome.status)
        return JSONResponse(body.model_dump(), status_code=202, headers={"Retry-After": "2"})
    return FileResponse(outcome.pdf_path, media_type="application/pdf", filename=f"transcript-{conversation}.pdf",
                        headers={"X-Content-SHA256": outcome.pdf_sha256 or "", "Cache-Control": "no-store"})
