"""Transcripts: record a request, render it (or reuse an identical earlier one), keep the PDF.

Load → render (pure pipeline, outside any transaction) → write the PDF → record it. A request
for an unchanged conversation reuses the file of an earlier request with the same fingerprint.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.attachments import upright_size
from pipeline.transcript import (
    RenderEnvironment,
    TranscriptConversation,
    TranscriptOptions,
    UnknownMessage,
    chain_head,
)
from pipeline.transcript import (
    render_transcript as render_pdf,
)
from storage import transcripts as store
from storage.blobs import BlobNotFound
from storage.db import transaction
from storage.files import atomic_write
from storage.models import TranscriptRequest
from usecases import webhooks
from usecases.app import App
from usecases.transcript_rendering import TranscriptTimeout, render_environment
from usecases.transcript_signing import sign_transcript

RENDER_TIME_LIMIT = timedelta(minutes=10)


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


def request_transcript(app: App, conversation_external_id: str, requested_by: str, now: datetime,
                       evidence: bool = False, around_message_ids: Sequence[str] = ()) -> int:
    """Record a request and enqueue its render after the commit; return the request id."""
    request_id = create_request(app, conversation_external_id, requested_by, now, evidence, around_message_ids)
    app.doorbell.render_transcript(request_id)
    return request_id


def create_request(app: App, conversation_external_id: str, requested_by: str, now: datetime,
                   evidence: bool = False, around_message_ids: Sequence[str] = ()) -> int:
    """Record a pending request; raises ConversationNotFound for an unknown external id."""
    with transaction(app.session_factory) as session:
        conversation_id = store.find_conversation_id(session, conversation_external_id)
        return store.create_request(session, conversation_id, requested_by, now, evidence, around_message_ids).id


def conversation_for_order(app: App, order_ref: str) -> str:
    """Return the external id of the conversation about a marketplace order (OrderNotFound, AmbiguousOrder)."""
    with app.session_factory() as session:
        return store.find_conversation_for_order(session, order_ref)


def fulfil_request(app: App, request_id: int, now: datetime) -> TranscriptOutcome:
    """Bring one request to ``done`` (rendering or reusing) or ``failed``; idempotent."""
    settled, job, announced = _settle_or_prepare(app, request_id, now)
    outcome = settled or _render_and_record(app, request_id, _with_original_sizes(app, job[0]), job[1], now)
    if announced or (settled is None and outcome.status == "done"):
        app.doorbell.deliver_webhooks()  # committed: transcript.ready goes out now
    return outcome


def _with_original_sizes(app: App, conversation: TranscriptConversation) -> TranscriptConversation:
    """Photos with regions read in them get their original's upright size, so the appendix can outline them.

    Only those photos' originals are read (after the transaction); one that cannot be read is
    drawn without outlines, its regions still listed.
    """
    messages = []
    for message in conversation.messages:
        attachments = tuple(replace(a, original_size=_original_size(app, a.blob_key)) if a.regions else a
                            for a in message.attachments)
        messages.append(replace(message, attachments=attachments) if attachments != message.attachments else message)
    return replace(conversation, messages=tuple(messages))


def _original_size(app: App, blob_key: str) -> tuple[int, int] | None:
    try:
        return upright_size(app.blobs.read(blob_key))
    except (BlobNotFound, FileNotFoundError):
        return None


def _settle_or_prepare(app: App, request_id: int, now: datetime):
    """An outcome when nothing needs rendering (done already, rendering elsewhere, reusable), else the job."""
    with transaction(app.session_factory) as session:
        request = store.lock_request(session, request_id)
        if request is None:
            raise LookupError(f"no transcript request {request_id}")
        if request.status == "done" or _rendering_elsewhere(request, now):
            return _outcome(app, request, reused=request.reused_from_id is not None), None, False
        conversation = store.load_transcript_conversation(session, request.conversation_id)
        head = chain_head(conversation)
        request.chain_head, request.message_count = head, len(conversation.messages)
        request.fingerprint = store.content_fingerprint(
            conversation, head, request.evidence, request.around_message_ids, request.requested_by,
            app.settings.transcript_signing is not None)
        earlier = store.reusable_request(session, request.conversation_id, request.fingerprint)
        if earlier is not None and _file_intact(app, earlier):
            _mark_reused(request, earlier, now)
            _announce_ready(session, request, conversation.external_id, now)
            return _outcome(app, request, reused=True), None, True
        request.status, request.started_at, request.error = "rendering", now, None
        return None, (conversation, _options(request)), False


def _render_and_record(app: App, request_id: int, conversation, options: TranscriptOptions,
                       now: datetime) -> TranscriptOutcome:
    try:
        rendered = render_pdf(conversation, now=now, environment=_environment(app), options=options)
    except (UnknownMessage, TranscriptTimeout) as exc:
        # Permanent for this input: record it and do not let the broker retry.
        return _record_failure(app, request_id, f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        _record_failure(app, request_id, f"{type(exc).__name__}: {exc}")
        raise
    try:
        pdf = _signed(app, rendered.pdf, options.requested_by)
    except Exception as exc:
        _record_failure(app, request_id, f"signing failed: {type(exc).__name__}: {exc}")
        raise
    sha256 = hashlib.sha256(pdf).hexdigest()
    relative = _write_pdf(app, conversation.external_id, pdf, sha256)
    with transaction(app.session_factory) as session:
        request = store.lock_request(session, request_id)
        request.status, request.finished_at = "done", now
        request.pdf_path, request.pdf_sha256 = relative, sha256
        request.pages, request.size_bytes = rendered.pages, len(pdf)
        _announce_ready(session, request, conversation.external_id, now)
        return _outcome(app, request, reused=False)


def _signed(app: App, pdf: bytes, requested_by: str) -> bytes:
    """The PDF signed with the configured key (PAdES), or unchanged when no key is configured."""
    signing = app.settings.transcript_signing
    return pdf if signing is None else sign_transcript(pdf, signing, requested_by)


def _announce_ready(session, request: TranscriptRequest, conversation_external_id: str, now: datetime) -> None:
    """The ``transcript.ready`` webhook event, in the transaction that marks the request done."""
    webhooks.record(session, "transcript.ready", conversation_external_id, {
        "conversation": conversation_external_id, "transcript": str(request.id), "sha256": request.pdf_sha256,
        "pages": request.pages, "evidence": request.evidence, "requested_by": request.requested_by,
        "location": f"/v1/transcripts/{request.id}",
    }, now)


def _rendering_elsewhere(request: TranscriptRequest, now: datetime) -> bool:
    # A render younger than the time limit is still someone's; an older one crashed and is retaken.
    return request.status == "rendering" and request.started_at is not None and \
        now - request.started_at < RENDER_TIME_LIMIT + timedelta(minutes=2)


def _mark_reused(request: TranscriptRequest, earlier: TranscriptRequest, now: datetime) -> None:
    request.status, request.finished_at, request.reused_from_id = "done", now, earlier.id
    request.pdf_path, request.pdf_sha256 = earlier.pdf_path, earlier.pdf_sha256
    request.pages, request.size_bytes = earlier.pages, earlier.size_bytes


def _file_intact(app: App, request: TranscriptRequest) -> bool:
    """True when the stored PDF is still there and still hashes to the recorded SHA-256."""
    if not request.pdf_path:
        return False
    path = app.settings.data_dir / request.pdf_path
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == request.pdf_sha256


def _record_failure(app: App, request_id: int, error: str) -> TranscriptOutcome:
    with transaction(app.session_factory) as session:
        request = store.lock_request(session, request_id)
        request.status, request.error = "failed", error[:2000]
        return _outcome(app, request, reused=False)


def _options(request: TranscriptRequest) -> TranscriptOptions:
    return TranscriptOptions(
        evidence=request.evidence,
        around_message_ids=tuple(request.around_message_ids or ()),
        time_limit_seconds=RENDER_TIME_LIMIT.total_seconds(),
        requested_by=request.requested_by,
    )


def _environment(app: App) -> RenderEnvironment:
    return render_environment(app.blobs.read, app.settings.data_dir / "cache" / "transcript-images")


def _write_pdf(app: App, conversation_external_id: str, pdf: bytes, sha256: str) -> str:
    """Write the PDF atomically under the data directory; return its path relative to it."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", conversation_external_id)[:100] or "conversation"
    relative = f"transcripts/{safe}/{sha256}.pdf"
    # The request is recorded as done right after this, so the file must survive a crash.
    atomic_write(app.settings.data_dir / relative, pdf, fsync=True)
    return relative


def _outcome(app: App, request: TranscriptRequest, reused: bool) -> TranscriptOutcome:
    path = app.settings.data_dir / request.pdf_path if request.pdf_path else None
    return TranscriptOutcome(
        request_id=request.id, status=request.status, pdf_path=path, pdf_sha256=request.pdf_sha256,
        pages=request.pages, size_bytes=request.size_bytes, chain_head=request.chain_head,
        reused=reused, error=request.error,
    )


# A request younger than this is presumably still on its way through the broker.
CATCH_UP_AGE = timedelta(seconds=30)


def ring_for_unfinished(app: App, now: datetime) -> int:
    """Ring the doorbell again for requests whose render message the broker lost."""
    with app.session_factory() as session:
        ids = store.unfinished_request_ids(session, now - CATCH_UP_AGE)
    for request_id in ids:
        app.doorbell.render_transcript(request_id)
    return len(ids)


def render_pending(app: App, now: datetime) -> dict[str, int]:
    """Fulfil every unfinished request made before ``now`` (the `run --once` stage)."""
    with app.session_factory() as session:
        ids = store.unfinished_request_ids(session, now + timedelta(microseconds=1))
    counts = {"done": 0, "failed": 0, "rendering_elsewhere": 0}
    for request_id in ids:
        outcome = fulfil_request(app, request_id, now)
        key = outcome.status if outcome.status in ("done", "failed") else "rendering_elsewhere"
        counts[key] += 1
    return {k: v for k, v in counts.items() if v}


def request_state(app: App, request_id: int) -> tuple[TranscriptOutcome, str] | None:
    """A request's outcome so far and its conversation's external id; None for an unknown request."""
    with app.session_factory() as session:
        found = store.request_with_conversation(session, request_id)
        if found is None:
            return None
        request, conversation = found
        return _outcome(app, request, reused=request.reused_from_id is not None), conversation
