"""Turn a conversation into the HTML of each rendering part (pure: strings in, strings out)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2

from pipeline.attachments.overlay import outline
from pipeline.transcript.chain import CHAIN_VERSION
from pipeline.transcript.model import (
    AttachmentOutcome,
    TranscriptConversation,
    TranscriptFinding,
    TranscriptMessage,
)
from pipeline.transcript.parts import stamped_meta
from pipeline.transcript.served import message_anchor, message_link
from pipeline.transcript.terms import AgreedTerm

UNBROKEN_RUN = 40
PIECE = 1000
ZERO_WIDTH_SPACE = "\u200b"
_LONG_RUN = re.compile(r"\S{%d,}" % (UNBROKEN_RUN + 1))
DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "transcript"


@dataclass(frozen=True)
class ShownImage:
    """Where a prepared image is served to WeasyPrint and how big it is."""

    url: str
    width: int
    height: int


@dataclass(frozen=True)
class Gap:
    """Messages left out of an evidence excerpt between two shown ones: how many, which, when."""

    count: int
    first: TranscriptMessage | None = None
    last: TranscriptMessage | None = None

    def view(self) -> dict[str, object]:
        """What the page says about the omitted range: ids, UTC times and attachment count."""
        omitted = [m for m in (self.first, self.last) if m is not None]
        return {
            "count": self.count,
            "first_id": omitted[0].external_id if omitted else "",
            "first_utc": _utc(omitted[0].sent_at) if omitted else "",
            "last_id": omitted[-1].external_id if omitted else "",
            "last_utc": _utc(omitted[-1].sent_at) if omitted else "",
        }


@dataclass(frozen=True)
class DocumentFacts:
    """Everything about the whole transcript that the header and appendix print."""

    conversation: TranscriptConversation
    links: tuple[str, ...]
    now: datetime
    generator: str
    evidence: bool
    shown_count: int
    outcomes: tuple[AttachmentOutcome, ...]
    images: Mapping[tuple[str, str], ShownImage] = field(default_factory=dict)
    printed_characters: int = 50_000
    requested_by: str = ""
    terms: tuple[AgreedTerm, ...] = ()

    @cached_property
    def linked_indexes(self) -> frozenset[int]:
        """Indexes of the messages the terms summary links to (``#m-INDEX``)."""
        return frozenset(term.index for term in self.terms[:MAX_TERMS_SHOWN])

    @cached_property
    def outcomes_by_message(self) -> dict[str, list[AttachmentOutcome]]:
        """Return the outcomes grouped by message external id, built once per part."""
        grouped: dict[str, list[AttachmentOutcome]] = {}
        for outcome in self.outcomes:
            grouped.setdefault(outcome.message_external_id, []).append(outcome)
        return grouped


def template_environment(template_dir: Path | None) -> jinja2.Environment:
    """Return a Jinja2 environment that escapes every value, whatever the template's extension."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir or DEFAULT_TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
    )


def stylesheet_text(template_dir: Path | None) -> str:
    """Return our fixed stylesheet."""
    return ((template_dir or DEFAULT_TEMPLATE_DIR) / "transcript.css").read_text("utf-8")


def part_html(
    env: jinja2.Environment,
    facts: DocumentFacts,
    items: Sequence[tuple[int, TranscriptMessage] | Gap],
    first: bool,
    last: bool,
    previous_day: str | None,
) -> str:
    """Render the HTML for one part: a run of messages (and gaps), plus header or appendix."""
    part = {"first": first, "last": last, "days": _days(facts, items, previous_day)}
    return env.get_template("part.html").render(
        header=_header(facts), part=part, appendix=_appendix(facts) if last else (),
        region_photos=_region_photos(facts) if last else (),
    )


def day_label(message: TranscriptMessage) -> str:
    """Return the UTC day heading a message falls under (also the outline bookmark)."""
    return message.sent_at.astimezone(UTC).strftime("%A %d %B %Y (UTC)")


def _header(facts: DocumentFacts) -> dict[str, object]:
    conversation = facts.conversation
    return {
        "conversation_id": conversation.external_id,
        "order_ref": conversation.order_ref,
        "subject": conversation.subject,
        "buyer": conversation.buyer,
        "seller": conversation.seller,
        "period": _period(conversation.messages),
        "message_count": len(conversation.messages),
        "shown_count": facts.shown_count,
        "attachment_count": sum(len(m.attachments) for m in conversation.messages),
        "shown_attachment_count": len(facts.outcomes),
        "generated_at": facts.now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "requested_by": facts.requested_by,
        "generator": facts.generator,
        "chain_head": facts.links[-1] if facts.links else "0" * 64,
        "chain_version": CHAIN_VERSION,
        "evidence": facts.evidence,
        "terms": [_term_view(t) for t in facts.terms[:MAX_TERMS_SHOWN]],
        "terms_left_out": max(0, len(facts.terms) - MAX_TERMS_SHOWN),
    }


MAX_TERMS_SHOWN = 60
TERM_LABELS = {"offer": "Offer", "counter-offer": "Counter-offer", "acceptance": "Acceptance", "item": "Quantity and item",
               "grade": "Grade or condition", "shipping": "Shipping", "tracking": "Tracking number", "payment": "Payment"}


def _term_view(term: AgreedTerm) -> dict[str, object]:
    status = term.status
    if term.kind in ("offer", "counter-offer") and status == "open":
        status = "open: not accepted"
    return {"label": TERM_LABELS.get(term.kind, term.kind), "value": term.value, "quote": breakable(term.quote),
            "role": term.role, "message_id": term.message_id, "href": message_link(term.index, term.message_id),
            "status": status}


def _period(messages: Sequence[TranscriptMessage]) -> str:
    if not messages:
        return "no messages"
    first, last = messages[0].sent_at, messages[-1].sent_at
    return f"{_utc(first)} UTC to {_utc(last)} UTC"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _days(
    facts: DocumentFacts, items: Sequence[tuple[int, TranscriptMessage] | Gap], previous_day: str | None
) -> list[dict[str, object]]:
    days: list[dict[str, object]] = []
    pending_gap: Gap | None = None
    for item in items:
        if isinstance(item, Gap):
            pending_gap = item
            continue
        index, message = item
        label = day_label(message)
        if not days or days[-1]["label"] != label:
            days.append({"label": label, "continued": label == previous_day and not days, "entries": []})
        if pending_gap is not None:
            days[-1]["entries"].append({"gap": pending_gap.count, "omitted": pending_gap.view()})
            pending_gap = None
        days[-1]["entries"].append({"gap": 0, "message": _message_view(facts, index, message)})
    if pending_gap is not None and days:
        days[-1]["entries"].append({"gap": pending_gap.count, "omitted": pending_gap.view()})
    return days


def _message_view(facts: DocumentFacts, index: int, message: TranscriptMessage) -> dict[str, object]:
    utc = _utc(message.sent_at)
    seller_local = _seller_local(message.sent_at, facts.conversation.seller.timezone)
    role = message.sender_role.value
    meta = f"{message.sender_name} ({role}) \u00b7 {utc} UTC \u00b7 seller local {seller_local} \u00b7 message {message.external_id}"
    return {
        "index": index,
        "external_id": message.external_id,
        "role": role,
        "sender_name": message.sender_name,
        "utc": utc,
        "seller_local": seller_local,
        "meta": meta,
        # The meta line the joiner draws after layout; empty when WeasyPrint lays it out (parts.py).
        "meta_stamp": stamped_meta(meta) or "",
        "segments": body_segments(message.body[:facts.printed_characters], message.findings),
        "dir": "rtl" if text_direction(message.body) == "rtl" else "",
        "unprinted": max(0, len(message.body) - facts.printed_characters),
        "findings": message.findings,
        "files": [_file_view(facts, message, outcome) for outcome in _outcomes_of(facts, message)],
        "link": facts.links[index],
        # Only a message the terms summary links to gets an id (its link target): WeasyPrint
        # turns every id into a named destination, which cost about a fifth of a part's render
        # when all 250 messages of a part had one.
        "anchor": message_anchor(index) if index in facts.linked_indexes else "",
    }


def _seller_local(moment: datetime, timezone: str) -> str:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        # An unknown zone name must not stop the render; UTC is labelled as such.
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local.strftime('%Y-%m-%d %H:%M:%S')} {local.tzname()}"


def text_direction(text: str) -> str:
    """Return "rtl" or "ltr" from the text's first strong character (Unicode bidi rule P2), "ltr" if none.

    WeasyPrint ignores ``unicode-bidi: plaintext`` and ``dir="auto"``, so each body gets an explicit
    ``dir``: an Arabic or Hebrew message then starts at the right margin and its neutral characters
    (punctuation, digits) take the paragraph's direction, as the sender saw it.
    """
    for character in text:
        kind = unicodedata.bidirectional(character)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return "ltr"


def body_segments(body: str, findings: Sequence[TranscriptFinding]) -> list[dict[str, object]]:
    """Split a body into plain and flagged runs for printing.

    Without the zero-width break opportunities ``breakable`` adds, the runs concatenate back to
    the exact body.
    """
    segments: list[dict[str, str]] = []
    cursor = 0
    for finding in sorted(findings, key=lambda f: (f.start, f.end)):
        start, end = max(finding.start, cursor), min(finding.end, len(body))
        if start >= end:
            continue  # Overlapping or out-of-range spans are listed below the body but not marked.
        segments.append({"text": body[cursor:start], "kind": ""})
        segments.append({"text": body[start:end], "kind": finding.kind})
        cursor = end
    segments.append({"text": body[cursor:], "kind": ""})
    pieces = [{"text": piece, "kind": s["kind"]} for s in segments if s["text"] for piece in _pieces(breakable(s["text"]))]
    # A plain run is printed as bare text, one inline box fewer per message for the layout engine
    # (about a tenth of a part's render time); only a body cut into pieces wraps each plain piece
    # in its own element, since adjacent bare pieces would merge back into one huge text box.
    boxed = len(body) > PIECE
    return [{**piece, "boxed": boxed} for piece in pieces]


def _pieces(text: str) -> list[str]:
    """Cut printed text into runs of at most ``PIECE`` characters, each drawn as its own inline box.

    The layout engine re-reads the rest of a text box for every line it breaks, so one huge box
    costs time quadratic in its length; boxes of bounded size keep a long body linear.
    """
    return [text[start:start + PIECE] for start in range(0, len(text), PIECE)]


def breakable(text: str) -> str:
    """Give unbroken runs longer than ``UNBROKEN_RUN`` characters a zero-width break opportunity every so often.

    Only the printed text changes: the record, the chain and the findings keep the exact body.
    Without these, the layout engine searches each line of an endless "word" from its start again,
    which is quadratic (a 262,144-character run took over ten minutes).
    """
    return _LONG_RUN.sub(lambda run: _chop(run.group(0)), text)


def _chop(run: str) -> str:
    return ZERO_WIDTH_SPACE.join(run[start:start + UNBROKEN_RUN] for start in range(0, len(run), UNBROKEN_RUN))


def _outcomes_of(facts: DocumentFacts, message: TranscriptMessage) -> list[AttachmentOutcome]:
    return facts.outcomes_by_message.get(message.external_id, [])


def _file_view(facts: DocumentFacts, message: TranscriptMessage, outcome: AttachmentOutcome) -> dict[str, object]:
    attachment = outcome.attachment
    image = facts.images.get((message.external_id, attachment.sha256.lower()))
    return {
        "name": attachment.original_name,
        "detected_type": outcome.detected_type,
        "size": attachment.size,
        "sha256": attachment.sha256.lower(),
        "disposition": outcome.disposition,
        "reason": outcome.reason,
        "preview": breakable(outcome.preview),
        "url": image.url if image else "",
        "width": image.width if image else 0,
        "height": image.height if image else 0,
    }


def _appendix(facts: DocumentFacts) -> list[dict[str, object]]:
    """Every attachment of the conversation; in an excerpt, those of unshown messages too, marked so."""
    rows: list[dict[str, object]] = []
    for message in facts.conversation.messages:
        outcomes = facts.outcomes_by_message.get(message.external_id)
        if outcomes is not None:
            rows += [_appendix_row(o.message_external_id, o.attachment, o.detected_type, o.disposition) for o in outcomes]
        else:
            rows += [_appendix_row(message.external_id, a, a.content_type, "message not shown in this excerpt")
                     for a in message.attachments]
    return rows


def _region_photos(facts: DocumentFacts) -> list[dict[str, object]]:
    """Shown photos in which contact details were read, with each region outlined on the prepared size."""
    photos: list[dict[str, object]] = []
    for message in facts.conversation.messages:
        for attachment in message.attachments:
            image = facts.images.get((message.external_id, attachment.sha256.lower()))
            if not attachment.regions or image is None or attachment.original_size is None:
                continue
            shown = (image.width, image.height)
            outlines = [drawn for region in attachment.regions if region.page == 0
                        and (drawn := outline(region.kind, region.box, attachment.original_size, shown)) is not None]
            if outlines:
                photos.append({"message_id": message.external_id, "name": attachment.original_name, "url": image.url,
                               "width": image.width, "height": image.height, "outlines": outlines,
                               "kinds": ", ".join(sorted({o.kind for o in outlines}))})
    return photos


def _appendix_row(message_id: str, attachment, detected_type: str, disposition: str) -> dict[str, object]:
    return {
        "message_id": message_id,
        "name": attachment.original_name,
        "declared_type": attachment.content_type,
        "detected_type": detected_type,
        "size": attachment.size,
        "sha256": attachment.sha256.lower(),
        "disposition": disposition,
    }
