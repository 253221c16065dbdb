"""Transcript rendering: the ``transcripts`` queue, and the service the CLI calls in-process.

Load → render (pure pipeline, outside any transaction) → write the PDF → record it. A request
for an unchanged conversation reuses the file of an earlier request with the same fingerprint.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.context import AppContext, app_context
from pipeline.transcript import (
    RenderEnvironment,
    TranscriptOptions,
    TranscriptTimeout,
    UnknownMessage,
    chain_head,
)
from pipeline.transcript import (
    render_transcript as render_pdf,
)
from storage import transcripts as store
from storage.db import transaction
from storage.models import TranscriptRequest

RENDER_TIME_LIMIT = timedelta(minutes=10)
# The actor's own limit leaves the pipeline time to stop its workers and record the failure.
ACTOR_TIME_LIMIT_MS = int((RENDER_TIME_LIMIT + timedelta(minutes=2)).total_seconds() * 1000)


@dataclass(frozen=True)
class TranscriptOutcome:
    """What a request ended as; ``pdf_path`` is absolute when the request is done."""

    request_id: int
    status: str
    pdf_path: Path | None
    pdf_sha256: str | None
    pages: int | None
    size_bytes: int | None
    chain_head: str | None
    reused: bool
    error: str | None


@dramatiq.actor(queue_name="transcripts", max_retries=2, time_limit=ACTOR_TIME_LIMIT_MS)
def render_transcript(request_id: int) -> None:
    """Render (or reuse) the transcript for one request; safe to run twice."""
    fulfil_request(app_context(), request_id, datetime.now(timezone.utc))


def request_transcript(context: AppContext, conversation_external_id: str, requested_by: str, now: datetime,
                       evidence: bool = False, around_message_ids: Sequence[str] = ()) -> int:
    """Record a request and enqueue its render after the commit; return the request id."""
    request_id = create_request(context, conversation_external_id, requested_by, now, evidence, around_message_ids)
    render_transcript.send(request_id)
    return request_id


def create_request(context: AppContext, conversation_external_id: str, requested_by: str, now: datetime,
                   evidence: bool = False, around_message_ids: Sequence[str] = ()) -> int:
    """Record a pending request; raises ConversationNotFound for an unknown external id."""
    with transaction(context.session_factory) as session:
        conversation_id = store.find_conversation_id(session, conversation_external_id)
        return store.create_request(session, conversation_id, requested_by, now, evidence, around_message_ids).id


def fulfil_request(context: AppContext, request_id: int, now: datetime) -> TranscriptOutcome:
    """Bring one request to ``done`` (rendering or reusing) or ``failed``; idempotent."""
    with transaction(context.session_factory) as session:
        request = store.lock_request(session, request_id)
        if request is None:
            raise LookupError(f"no transcript request {request_id}")
        if request.status == "done" or _rendering_elsewhere(request, now):
            return _outcome(context, request, reused=request.reused_from_id is not None)
        conversation = store.load_transcript_conversation(session, request.conversation_id)
        head = chain_head(conversation)
        request.chain_head, request.message_count = head, len(conversation.messages)
        request.fingerprint = store.content_fingerprint(
            conversation, head, request.evidence, request.around_message_ids)
        earlier = store.reusable_request(session, request.conversation_id, request.fingerprint)
        if earlier is not None and _file_intact(context, earlier):
            _mark_reused(request, earlier, now)
            return _outcome(context, request, reused=True)
        request.status, request.started_at, request.error = "rendering", now, None
        options = _options(request)
    return _render_and_record(context, request_id, conversation, options, now)


def _render_and_record(context: AppContext, request_id: int, conversation, options: TranscriptOptions,
                       now: datetime) -> TranscriptOutcome:
    try:
        rendered = render_pdf(conversation, now=now, environment=_environment(context), options=options)
    except (UnknownMessage, TranscriptTimeout) as exc:
        # Permanent for this input: record it and do not let the broker retry.
        return _record_failure(context, request_id, f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        _record_failure(context, request_id, f"{type(exc).__name__}: {exc}")
        raise
    relative = _write_pdf(context, conversation.external_id, rendered.pdf, rendered.sha256)
    with transaction(context.session_factory) as session:
        request = store.lock_request(session, request_id)
        request.status, request.finished_at = "done", now
        request.pdf_path, request.pdf_sha256 = relative, rendered.sha256
        request.pages, request.size_bytes = rendered.pages, len(rendered.pdf)
        return _outcome(context, request, reused=False)


def _rendering_elsewhere(request: TranscriptRequest, now: datetime) -> bool:
    # A render younger than the time limit is still someone's; an older one crashed and is retaken.
    return request.status == "rendering" and request.started_at is not None and \
        now - request.started_at < RENDER_TIME_LIMIT + timedelta(minutes=2)


def _mark_reused(request: TranscriptRequest, earlier: TranscriptRequest, now: datetime) -> None:
    request.status, request.finished_at, request.reused_from_id = "done", now, earlier.id
    request.pdf_path, request.pdf_sha256 = earlier.pdf_path, earlier.pdf_sha256
    request.pages, request.size_bytes = earlier.pages, earlier.size_bytes


def _file_intact(context: AppContext, request: TranscriptRequest) -> bool:
    """True when the stored PDF is still there and still hashes to the recorded SHA-256."""
    if not request.pdf_path:
        return False
    path = context.settings.data_dir / request.pdf_path
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == request.pdf_sha256


def _record_failure(context: AppContext, request_id: int, error: str) -> TranscriptOutcome:
    with transaction(context.session_factory) as session:
        request = store.lock_request(session, request_id)
        request.status, request.error = "failed", error[:2000]
        return _outcome(context, request, reused=False)


def _options(request: TranscriptRequest) -> TranscriptOptions:
    return TranscriptOptions(
        evidence=request.evidence,
        around_message_ids=tuple(request.around_message_ids or ()),
        time_limit_seconds=RENDER_TIME_LIMIT.total_seconds(),
    )


def _environment(context: AppContext) -> RenderEnvironment:
    return RenderEnvironment(read_blob=context.blobs.read,
                             cache_dir=context.settings.data_dir / "cache" / "transcript-images")


def _write_pdf(context: AppContext, conversation_external_id: str, pdf: bytes, sha256: str) -> str:
    """Write the PDF atomically under the data directory; return its path relative to it."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", conversation_external_id)[:100] or "conversation"
    relative = f"transcripts/{safe}/{sha256}.pdf"
    target = context.settings.data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, suffix=".part")
    with os.fdopen(handle, "wb") as stream:
        stream.write(pdf)
    os.replace(temp_name, target)
    return relative


def _outcome(context: AppContext, request: TranscriptRequest, reused: bool) -> TranscriptOutcome:
    path = context.settings.data_dir / request.pdf_path if request.pdf_path else None
    return TranscriptOutcome(
        request_id=request.id, status=request.status, pdf_path=path, pdf_sha256=request.pdf_sha256,
        pages=request.pages, size_bytes=request.size_bytes, chain_head=request.chain_head,
        reused=reused, error=request.error,
    )


# A request younger than this is presumably still on its way through the broker.
CATCH_UP_AGE = timedelta(seconds=30)


@dramatiq.actor(queue_name="sweeps", max_retries=0)
def transcript_sweep() -> None:
    """Re-enqueue transcript requests whose render message the broker lost."""
    now = datetime.now(timezone.utc)
    with app_context().session_factory() as session:
        ids = store.unfinished_request_ids(session, now - CATCH_UP_AGE)
    for request_id in ids:
        render_transcript.send(request_id)


def render_pending(context: AppContext, now: datetime) -> dict[str, int]:
    """Fulfil every unfinished request made before ``now`` (the `run --once` stage)."""
    with context.session_factory() as session:
        ids = store.unfinished_request_ids(session, now + timedelta(microseconds=1))
    counts = {"done": 0, "failed": 0, "rendering_elsewhere": 0}
    for request_id in ids:
        outcome = fulfil_request(context, request_id, now)
        key = outcome.status if outcome.status in ("done", "failed") else "rendering_elsewhere"
        counts[key] += 1
    return {k: v for k, v in counts.items() if v}
