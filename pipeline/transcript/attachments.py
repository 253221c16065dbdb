"""Decide, for each attachment of the shown messages, whether it is drawn, embedded or only listed."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pipeline.files import SNIFF_BYTES, sniff_content_type
from pipeline.transcript.images import DOCUMENT_TYPES, RASTER_TYPES, NotRenderable, check_hash, prepare_image
from pipeline.transcript.model import (
    AttachmentOutcome,
    EmbeddedDocument,
    PreparedImage,
    RenderEnvironment,
    TranscriptAttachment,
    TranscriptMessage,
)


@dataclass(frozen=True)
class AttachmentPlan:
    """What triage decided: outcomes in message order, prepared images and documents to embed."""

    outcomes: tuple[AttachmentOutcome, ...]
    images: dict[tuple[str, str], PreparedImage]
    documents: tuple[EmbeddedDocument, ...]


@dataclass(frozen=True)
class _Triaged:
    outcome: AttachmentOutcome
    image: PreparedImage | None = None
    document: EmbeddedDocument | None = None


def plan_attachments(
    messages: Sequence[TranscriptMessage],
    environment: RenderEnvironment,
    long_side: int,
    max_pixels: int,
    workers: int,
    document_budget: int | None,
) -> AttachmentPlan:
    """Triage every attachment of ``messages``; Pillow releases the GIL, so threads scale."""
    tasks = [(m, a) for m in messages for a in m.attachments]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as executor:
        triaged = list(executor.map(
            lambda task: _triage(task[0], task[1], environment, long_side, max_pixels), tasks))
    triaged = _apply_document_budget(triaged, document_budget)
    return AttachmentPlan(
        outcomes=tuple(t.outcome for t in triaged),
        images={(t.outcome.message_external_id, t.image.sha256): t.image for t in triaged if t.image},
        documents=tuple(t.document for t in triaged if t.document),
    )


def _triage(
    message: TranscriptMessage,
    attachment: TranscriptAttachment,
    environment: RenderEnvironment,
    long_side: int,
    max_pixels: int,
) -> _Triaged:
    sha256 = attachment.sha256.lower()
    cached = environment.images.load(sha256, long_side)
    if cached is not None:
        return _Triaged(_outcome(message, attachment, "image", cached[1]), image=cached[0])
    try:
        data = environment.read_blob(attachment.blob_key)
    except Exception as exc:  # noqa: BLE001 - any storage failure is reported in the PDF, not raised
        return _Triaged(_outcome(message, attachment, "not renderable", "unknown",
                                 f"stored file could not be read ({type(exc).__name__})"))
    return _triage_bytes(message, attachment, data, environment, long_side, max_pixels)


def _triage_bytes(
    message: TranscriptMessage,
    attachment: TranscriptAttachment,
    data: bytes,
    environment: RenderEnvironment,
    long_side: int,
    max_pixels: int,
) -> _Triaged:
    # Evidence states only what a signature in the bytes proves, so the text guess is off.
    detected = sniff_content_type(data[:SNIFF_BYTES], guess_text=False)
    try:
        check_hash(data, attachment)
        if detected in RASTER_TYPES:
            prepared = prepare_image(data, detected, long_side, max_pixels)
            image = environment.images.store(attachment.sha256.lower(), long_side, detected, prepared)
            return _Triaged(_outcome(message, attachment, "image", detected), image=image)
        if detected in DOCUMENT_TYPES:
            return _Triaged(_outcome(message, attachment, "embedded", detected),
                            document=_document(message, attachment, data, detected))
        preview = text_preview(data)
        if preview is not None:
            return _Triaged(AttachmentOutcome(message.external_id, attachment, "text", "text/plain", preview=preview))
        raise NotRenderable(f"no renderer for {detected}")
    except NotRenderable as exc:
        return _Triaged(_outcome(message, attachment, "not renderable", detected, str(exc)))


TEXT_PREVIEW_LINES = 120
TEXT_PREVIEW_CHARACTERS = 8_000
_CONTROL = {chr(c) for c in range(32) if chr(c) not in "\t\n\r\f"} | {"\x7f"}


def text_preview(data: bytes) -> str | None:
    """The first lines of a plain-text file, or None when the bytes are not UTF-8 text."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    head = text[:TEXT_PREVIEW_CHARACTERS * 2]
    if not head.strip() or any(c in _CONTROL for c in head):
        return None
    lines = text.splitlines()
    shown = "\n".join(lines[:TEXT_PREVIEW_LINES])[:TEXT_PREVIEW_CHARACTERS]
    if len(shown) < len(text.rstrip("\n")):
        shown += f"\n… (first {min(len(lines), TEXT_PREVIEW_LINES)} of {len(lines)} lines shown; the file's SHA-256 is listed)"
    return shown


def _outcome(
    message: TranscriptMessage, attachment: TranscriptAttachment, disposition: str, detected: str,
    reason: str = "",
) -> AttachmentOutcome:
    return AttachmentOutcome(message.external_id, attachment, disposition, detected, reason)


def _document(
    message: TranscriptMessage, attachment: TranscriptAttachment, data: bytes, detected: str
) -> EmbeddedDocument:
    # Names in the embedded-file tree must be unique and must not look like paths.
    safe_name = attachment.original_name.replace("/", "_").replace("\\", "_")[:120] or "attachment"
    return EmbeddedDocument(
        name=f"{message.external_id}-{attachment.sha256[:8]}-{safe_name}",
        data=data,
        mime_type=detected,
        description=f"{attachment.original_name} from message {message.external_id}, "
                    f"SHA-256 {attachment.sha256.lower()}",
    )


def _apply_document_budget(triaged: list[_Triaged], budget: int | None) -> list[_Triaged]:
    """Keep embedded documents within ``budget`` bytes; the rest are listed with their hashes."""
    if budget is None:
        return triaged
    kept: list[_Triaged] = []
    used = 0
    for item in triaged:
        if item.document is not None and used + len(item.document.data) > budget:
            outcome = AttachmentOutcome(item.outcome.message_external_id, item.outcome.attachment,
                                        "listed", item.outcome.detected_type,
                                        "not embedded: excerpt size limit")
            item = _Triaged(outcome)
        elif item.document is not None:
            used += len(item.document.data)
        kept.append(item)
    return kept
