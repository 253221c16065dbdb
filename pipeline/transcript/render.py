"""Render a conversation to a verifiable PDF: triage attachments, render parts on the given workers, join."""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from importlib.metadata import version

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
from pipeline.transcript.model import (
    AttachmentOutcome,
    EmbeddedDocument,
    PartWorkers,
    RenderedTranscript,
    RenderEnvironment,
    TranscriptConversation,
    TranscriptMessage,
    TranscriptOptions,
)
from pipeline.transcript.parts import GLYPH_CHARACTERS, LinkStamp, PageDays, PartJob
from pipeline.transcript.served import image_url
from pipeline.transcript.terms import agreed_terms

LOG = logging.getLogger(__name__)
GENERATOR_VERSION = f"PeerGuard transcript 1.0 (WeasyPrint {version('weasyprint')})"
# Evidence excerpts may embed documents only up to this many bytes, leaving room for the pages.
EVIDENCE_DOCUMENT_BUDGET = 2_000_000


@dataclass(frozen=True)
class _Request:
    conversation: TranscriptConversation
    links: tuple[str, ...]
    now: datetime
    environment: RenderEnvironment
    options: TranscriptOptions
    shown_total: int = 0


def render_transcript(
    conversation: TranscriptConversation,
    *,
    now: datetime,
    environment: RenderEnvironment,
    options: TranscriptOptions | None = None,
) -> RenderedTranscript:
    """Render ``conversation`` as a full transcript or, with ``options.evidence``, an excerpt."""
    options = options or TranscriptOptions()
    request = _Request(conversation, chain_links(conversation), now, environment, options)
    if options.evidence:
        return _render_evidence(request)
    items = list(enumerate(conversation.messages))
    return _render_items(replace(request, shown_total=len(items)), items, options.max_image_side)


def _render_evidence(request: _Request) -> RenderedTranscript:
    messages = request.conversation.messages
    options = request.options
    anchors = anchor_indexes(messages, options.around_message_ids)
    rendered: RenderedTranscript | None = None
    for kept, context in shrinking_attempts(len(anchors), options.context_messages):
        items = excerpt_items(messages, anchors[:kept], context)
        shown = sum(1 for item in items if not isinstance(item, Gap))
        rendered = _render_items(replace(request, shown_total=shown), items, options.thumbnail_side)
        if rendered.pages <= options.evidence_max_pages and len(rendered.pdf) <= options.evidence_max_bytes:
            return rendered
    assert rendered is not None
    warning = "excerpt still exceeds the card-network limits with a single message shown"
    return _with_warning(rendered, warning)


def _with_warning(rendered: RenderedTranscript, warning: str) -> RenderedTranscript:
    return replace(rendered, warnings=(*rendered.warnings, warning))


def _render_items(request: _Request, items: Sequence[Item], long_side: int) -> RenderedTranscript:
    started = time.perf_counter()
    chunks = split_items(items, request.options)
    start_workers = request.environment.start_workers
    with start_workers(min(request.options.workers, len(chunks)), request.options.time_limit_seconds) as pool:
        # The workers may still be booting (RenderPool starts them in the background) while the
        # terms summary and the first part's HTML are built; the glyph sheet goes second, since
        # submitting waits for them. Each later part is submitted as soon as its photos are ready
        # (prepared at import, or here for older attachments), so image work overlaps rendering.
        book = _PartBook(request, long_side, len(chunks))
        pending = [pool.submit(book.job(0, chunks[0]))]
        glyph_sheet = pool.submit_glyph_sheet()
        pending += [pool.submit(book.job(number, chunk)) for number, chunk in enumerate(chunks) if number]
        LOG.info("transcript: %d parts submitted at %.2f s", len(pending), time.perf_counter() - started)
        # The parts' PDF bytes are small; the joined document's parsed objects are not (about
        # 150 MB for 10,000 messages). So the parts are only collected while the workers render,
        # and joined once the workers (and, unless another render uses it, the fork server) are
        # gone: the two memory peaks no longer add up.
        parts = deque(book.collect(pool, pending))
        glyph = pool.result(glyph_sheet)
        del pending, glyph_sheet
    LOG.info("transcript: %d parts rendered at %.2f s", len(parts), time.perf_counter() - started)
    # pikepdf (and the record's code) is imported only now: ~15 MB the parent did not hold while
    # the workers rendered.
    from pipeline.transcript import pdfjoin
    from pipeline.transcript.record import record_bytes

    pdf, pages = pdfjoin.join_parts(_drain(parts), glyph, book.documents,
                                    request.now, partial(record_bytes, request.conversation, request.links),
                                    title=book.title if book.stamp_headers else None)
    LOG.info("transcript: %d pages, %d bytes joined at %.2f s", pages, len(pdf), time.perf_counter() - started)
    return RenderedTranscript(
        pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest(), pages=pages,
        chain_head=request.links[-1] if request.links else "0" * 64,
        message_count=len(request.conversation.messages), shown_message_count=book.shown_count,
        attachments=tuple(book.outcomes), refused_urls=tuple(book.refused),
    )


class _PartBook:
    """Builds the parts of one render in order, accumulating attachment outcomes for the appendix."""

    def __init__(self, request: _Request, long_side: int, part_count: int) -> None:
        self.request, self.long_side, self.part_count = request, long_side, part_count
        self.env = template_environment(request.environment.template_dir)
        self.css = stylesheet_text(request.environment.template_dir)
        self.token = secrets.token_hex(16)
        self.outcomes: list[AttachmentOutcome] = []
        self.images: dict[tuple[str, str], ShownImage] = {}
        self.refs: dict[str, str] = {}
        self.documents: list[EmbeddedDocument] = []
        self.refused: list[str] = []
        self.shown_count = 0
        self.previous_day: str | None = None
        self.budget = EVIDENCE_DOCUMENT_BUDGET if request.options.evidence else None
        self.terms = agreed_terms(request.conversation)
        self.title = f"Transcript of conversation {request.conversation.external_id}"
        # The joiner stamps the running headers in the glyph sheet's font when it holds every
        # character they may print; otherwise WeasyPrint lays them out as margin boxes.
        labels = {day_label(message) for message in request.conversation.messages}
        self.stamp_headers = all(character == " " or character in GLYPH_CHARACTERS
                                 for text in (self.title, *labels) for character in text)
        if not self.stamp_headers:
            self.css += laid_out_headers_css(self.title)

    def job(self, number: int, chunk: Sequence[Item]) -> PartJob:
        """Prepare this part's attachments, then return its rendering job."""
        shown = [item[1] for item in chunk if not isinstance(item, Gap)]
        self.shown_count += len(shown)
        plan = self._plan(shown)
        served = {image_url(self.token, i.sha256, self.long_side): i.ref for i in plan.images.values()}
        self.refs.update(served)
        if number == self.part_count - 1:
            served = dict(self.refs)  # the appendix may draw again a photo shown in an earlier part
        self.images.update({key: ShownImage(url, i.width, i.height) for key, i in plan.images.items()
                            for url in (image_url(self.token, i.sha256, self.long_side),)})
        html = part_html(self.env, self._facts(), chunk, number == 0, number == self.part_count - 1,
                         self.previous_day)
        self.previous_day = _last_day(chunk) or self.previous_day
        return PartJob(html=html, css=self.css, served=served, token=self.token, stamp_headers=self.stamp_headers)

    def collect(
        self, pool: PartWorkers, pending: Sequence[object]
    ) -> Iterator[tuple[bytes, Sequence[LinkStamp], Sequence[PageDays], Sequence[LinkStamp]]]:
        """Yield each part's PDF, chain link lines, page days and meta lines in order, as each arrives."""
        for handle in pending:
            result = pool.result(handle)
            self.refused.extend(result.refused)
            yield result.pdf, result.links, result.days, result.metas

    def _plan(self, shown: Sequence[TranscriptMessage]) -> AttachmentPlan:
        options = self.request.options
        plan = plan_attachments(shown, self.request.environment, self.long_side, options.max_image_pixels,
                                options.workers, self.budget)
        if self.budget is not None:
            self.budget -= sum(len(d.data) for d in plan.documents)
        self.outcomes.extend(plan.outcomes)
        self.documents.extend(plan.documents)
        return plan

    def _facts(self) -> DocumentFacts:
        request = self.request
        return DocumentFacts(
            conversation=request.conversation, links=request.links, now=request.now,
            generator=GENERATOR_VERSION, evidence=request.options.evidence,
            shown_count=request.shown_total, outcomes=tuple(self.outcomes), images=dict(self.images),
            printed_characters=request.options.printed_characters, requested_by=request.options.requested_by,
            terms=self.terms,
        )


def _drain(parts: deque) -> Iterator:
    """Hand the parts to the joiner one by one, letting go of each as it is taken."""
    while parts:
        yield parts.popleft()


def laid_out_headers_css(title: str) -> str:
    """The running headers as WeasyPrint margin boxes, for a title the joiner's font cannot draw."""
    escaped = "".join(f"\\{ord(character):x} " for character in title)
    style = 'font: 7.5pt "DejaVu Sans", sans-serif; color: #555;'
    return (
        f'\n@page {{ @top-left {{ content: "{escaped}"; {style} }}\n'
        f'  @top-right {{ content: string(day-title, start); {style} }} }}\n'
        "h2[data-day] { string-set: day-title attr(data-day); }\n"
    )


def _last_day(chunk: Sequence[Item]) -> str | None:
    messages = [item[1] for item in chunk if not isinstance(item, Gap)]
    return day_label(messages[-1]) if messages else None


def split_items(items: Sequence[Item], options: TranscriptOptions) -> list[list[Item]]:
    """Cut the items into equal runs of at most ``messages_per_part``, at least one per worker."""
    count = len(items)
    # Below the threshold a second worker costs more to start than it saves.
    if count < max(1, options.min_messages_to_split):
        return [list(items)]
    # Two parts per worker at least, so photo preparation for one part overlaps another's render.
    parts = max(math.ceil(count / max(1, options.messages_per_part)), 2 * max(1, options.workers))
    size = math.ceil(count / parts)
    return [list(items[start:start + size]) for start in range(0, count, size)]
