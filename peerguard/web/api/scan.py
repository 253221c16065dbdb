"""The compose-time check: what the detector sees in a draft, before it is sent. Stores nothing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from peerguard.web.api.models import FindingOut, ScanIn, ScanOut
from peerguard.web.auth import require
from peerguard.web.errors import ApiError
from usecases.scanning import DraftContextError, check_draft

router = APIRouter(prefix="/v1", tags=["compose-time check"], dependencies=[Depends(require("scan"))])


INLINE_CHARS = 2000
"""A draft this short without a conversation is checked on the event loop (about a millisecond of CPU, no thread hop)."""


@router.post("/scan", response_model=ScanOut)
async def scan(body: ScanIn, request: Request) -> ScanOut:
    """Findings, the masked text and one sentence to show the sender; with ``conversation``, split attempts too."""
    app = request.app.state.peerguard
    try:
        if body.conversation is None and len(body.text) <= INLINE_CHARS:
            checked = check_draft(app, body.text, None, body.sender)
        else:  # a database read, or a long text that would hold the loop: a worker thread
            checked = await run_in_threadpool(check_draft, app, body.text, body.conversation, body.sender)
    except DraftContextError as exc:
        raise ApiError(422, "rejected", str(exc), "sender" if body.sender and "participant" in str(exc) else "conversation") from None
    findings = [_finding(f, split=False) for f in checked.findings] + [_finding(f, split=True) for f in checked.split]
    return ScanOut(findings=findings, masked_text=checked.masked, message=checked.advice)


def _finding(finding, split: bool) -> FindingOut:
    data = finding.to_json()
    return FindingOut(kind=data["kind"], start=data["start"], end=data["end"], match=data["match"], value=data["value"],
                      score=data["score"], detector_version=data["detector_version"], split=split,
                      evidence=data.get("evidence"))
