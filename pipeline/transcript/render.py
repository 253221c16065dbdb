"""Render a conversation to a verifiable PDF: triage attachments, render parts in workers, join."""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import weasyprint

from pipeline.transcript.attachments import AttachmentPlan, plan_attachments
from pipeline.transcript.chain import chain_links
from pipeline.transcript.document import (
    DocumentFacts,
    Gap,
    ShownImage,
    day_label,
    part_html,
    stylesheet_text,
    template_environment,
)
from pipeline.transcript.excerpt import Item, anchor_indexes, excerpt_items, shrinking_attempts
from pipeline.transcript.fetcher import image_url
from pipeline.transcript.model import (
    RenderedTranscript,
    RenderEnvironment,
    TranscriptConversation,
    TranscriptOptions,
)
from pipeline.transcript.parts import PartJob
from pipeline.transcript.pdfjoin import join_parts
from pipeline.transcript.pool import RenderPool

GENERATOR_VERSION = f"PeerGuard transcript 1.0 (WeasyPrint {weasyprint.__version__})"
# Evidence excerpts may embed documents only up to this many bytes, leaving room for the pages.
EVIDENCE_DOCUMENT_BUDGET = 2_000_000


@dataclass(frozen=True)
class _Request:
    conversation: TranscriptConversation
    links: tuple[str, ...]
    now: datetime
    environment: RenderEnvironment
    options: TranscriptOptions


def render_transcript(
    conversation: TranscriptConversation,
    *,
    now: datetime,
    environment: RenderEnvironment,
    options: TranscriptOptions = TranscriptOptions(),
) -> RenderedTranscript:
    """Render ``conversation`` as a full transcript or, with ``options.evidence``, an excerpt."""
    request = _Request(conversation, chain_links(conversation), now, environment, options)
    if options.evidence:
        return _render_evidence(request)
    return _render_items(request, list(enumerate(conversation.messages)), options.max_image_side)


def _render_evidence(request: _Request) -> RenderedTranscript:
    messages = request.conversation.messages
    options = request.options
    anchors = anchor_indexes(messages, options.around_message_ids)
    rendered: RenderedTranscript | None = None
    for kept, context in shrinking_attempts(len(anchors), options.context_messages):
        items = excerpt_items(messages, anchors[:kept], context)
        rendered = _render_items(request, items, options.thumbnail_side)
        if rendered.pages <= options.evidence_max_pages and len(rendered.pdf) <= options.evidence_max_bytes:
            return rendered
    assert rendered is not None
    warning = "excerpt still exceeds the card-network limits with a single message shown"
    return _with_warning(rendered, warning)


def _with_warning(rendered: RenderedTranscript, warning: str) -> RenderedTranscript:
    return replace(rendered, warnings=(*rendered.warnings, warning))


def _render_items(request: _Request, items: Sequence[Item], long_side: int) -> RenderedTranscript:
    options = request.options
    shown = [message for item in items if not isinstance(item, Gap) for message in (item[1],)]
    plan = plan_attachments(
        shown, request.environment, long_side, options.max_image_pixels, options.workers,
        EVIDENCE_DOCUMENT_BUDGET if options.evidence else None)
    token = secrets.token_hex(16)
    served = {image_url(token, i.sha256, long_side): str(i.path) for i in plan.images.values()}
    facts = _facts(request, plan, token, long_side, len(shown))
    jobs = _jobs(request, facts, items, served, token)
    refused: list[str] = []
    with RenderPool(min(options.workers, len(jobs)), options.time_limit_seconds) as pool:
        glyph_sheet = pool.glyph_sheet()
        pdf, pages = join_parts(_collect(pool.render(jobs), refused), glyph_sheet, plan.documents, request.now)
    return RenderedTranscript(
        pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest(), pages=pages,
        chain_head=request.links[-1] if request.links else "0" * 64,
        message_count=len(request.conversation.messages), shown_message_count=len(shown),
        attachments=plan.outcomes, refused_urls=tuple(refused),
    )


def _collect(results, refused: list[str]):  # type: ignore[no-untyped-def]
    # The joiner consumes parts as they arrive, so joining overlaps with rendering later parts.
    for result in results:
        refused.extend(result.refused)
        yield result.pdf


def _facts(request: _Request, plan: AttachmentPlan, token: str, long_side: int, shown_count: int) -> DocumentFacts:
    images = {
        key: ShownImage(image_url(token, image.sha256, long_side), image.width, image.height)
        for key, image in plan.images.items()
    }
    return DocumentFacts(
        conversation=request.conversation, links=request.links, now=request.now,
        generator=GENERATOR_VERSION, evidence=request.options.evidence, shown_count=shown_count,
        outcomes=plan.outcomes, images=images,
    )


def _jobs(
    request: _Request, facts: DocumentFacts, items: Sequence[Item], served: dict[str, str], token: str
) -> list[PartJob]:
    env = template_environment(request.environment.template_dir)
    css = stylesheet_text(request.environment.template_dir)
    chunks = split_items(items, request.options)
    jobs: list[PartJob] = []
    previous_day: str | None = None
    for number, chunk in enumerate(chunks):
        html = part_html(env, facts, chunk, number == 0, number == len(chunks) - 1, previous_day)
        jobs.append(PartJob(html=html, css=css, served=served, token=token))
        previous_day = _last_day(chunk) or previous_day
    return jobs


def _last_day(chunk: Sequence[Item]) -> str | None:
    messages = [item[1] for item in chunk if not isinstance(item, Gap)]
    return day_label(messages[-1]) if messages else None


def split_items(items: Sequence[Item], options: TranscriptOptions) -> list[list[Item]]:
    """Cut the items into equal runs of at most ``messages_per_part``, at least one per worker."""
    count = len(items)
    # Below the threshold a second worker costs more to start than it saves.
    if count < max(1, options.min_messages_to_split):
        return [list(items)]
    parts = max(math.ceil(count / max(1, options.messages_per_part)), max(1, options.workers))
    size = math.ceil(count / parts)
    return [list(items[start:start + size]) for start in range(0, count, size)]
