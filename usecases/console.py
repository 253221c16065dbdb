"""The staff console's workflows: the queue with "claim next", an item's page (masked until a
reveal, which is audited), decisions, a user's page with overturns, conversations and
transcript downloads. Each function is one transaction and writes its audit line in it.

A reviewer never acts on an item about their own account: an item is about a staff member when
either party of its conversation has the staff member's email or marketplace id. "Claim next"
skips such items; every action on one is refused with ``OwnAccount``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pipeline.attachments import Outline, outline, shown_size, upright_size
from pipeline.files import SNIFF_BYTES, sniff_content_type
from pipeline.highlight import Piece, pieces
from pipeline.review import OUTCOMES, effective_priority
from pipeline.transcript.images import RASTER_TYPES, NotRenderable, check_hash, prepare_image
from pipeline.transcript.model import TranscriptAttachment, TranscriptOptions
from storage import attachment_scans
from storage import console as store
from storage import review as review_store
from storage.blobs import BlobNotFound
from storage.console import ConversationSummary, TranscriptRow
from storage.db import Session, transaction
from storage.image_cache import read_prepared
from storage.review import Person, QueueRow, StrikeRecord
from usecases import review, transcripts
from usecases.app import App
from usecases.attachments import image_cache
from usecases.review import QueueEntry, ReviewError
from usecases.staff import Staff, audit

CONTEXT_MESSAGES = 5
CLAIM_NEXT_TRIES = 5
CANNED_REASONS = {
    "confirmed": ("Phone number shared", "Email address shared", "Off-platform payment requested",
                  "Social or messaging handle shared", "Asked to move the conversation off the platform"),
    "dismissed": ("False positive: certificate or tracking number", "False positive: price, weight or year",
                  "False positive: platform link or order number", "Shared for a legitimate reason"),
    "ignored": ("Duplicate of another item", "Not enough context to judge"),
}


class OwnAccount(ReviewError):
    """The item, strike or user is about the acting staff member's own account."""


class NotYourClaim(ReviewError):
    """Only the reviewer who holds a claim can release it."""


class TranscriptNotReady(Exception):
    """The transcript is not rendered (yet), or its file no longer matches its recorded hash."""


def _entry(row: QueueRow, now: datetime) -> QueueEntry:
    live = row.claim_expires_at is not None and row.claim_expires_at > now
    return QueueEntry(row.id, row.status, row.kind, effective_priority(row.rank, now), row.score, row.high_severity,
                      row.sender, row.sender_id, row.conversation_id, row.message_id, row.opened_at,
                      row.claimant if live else None, row.resolved_at)


def _is_self(staff: Staff, person: Person | None) -> bool:
    if person is None:
        return False
    same_email = bool(person.email) and person.email.strip().lower() == staff.email.strip().lower()
    return same_email or person.external_id == staff.external_id or person.id == staff.user_id


def _parties(session: Session, conversation_external_id: str) -> tuple[ConversationSummary, Person, Person]:
    summary = store.conversation_summary(session, conversation_external_id)
    return summary, review_store.person(session, summary.buyer_id), review_store.person(session, summary.seller_id)


def _item_about_self(session: Session, staff: Staff, item_id: int) -> bool:
    item = review.get_item(session, item_id)
    conversation = review_store.conversation_row(session, item.conversation_id)
    _, buyer, seller = _parties(session, conversation.external_id)
    return any(_is_self(staff, p) for p in (buyer, seller, review_store.person(session, item.subject_user_id)))


def _refuse_own_item(session: Session, staff: Staff, item_id: int) -> None:
    if _item_about_self(session, staff, item_id):
        raise OwnAccount(f"review item {item_id} is about your own account; another reviewer must handle it")


# --- Queue -------------------------------------------------------------------------------------


def queue(app: App, staff: Staff, now: datetime, status: str = "pending", kind: str | None = None,
          claimed: str | None = None) -> list[QueueEntry]:
    with app.session_factory() as session:
        return [_entry(row, now) for row in store.console_queue(session, status, kind, claimed, staff.user_id, now)]


def claim_next(app: App, staff: Staff, now: datetime, kind: str | None = None) -> int | None:
    """Claim the highest-priority unclaimed item not about the reviewer; None when there is none.

    Atomic across reviewers: the candidate row is locked with SKIP LOCKED (PostgreSQL) and the
    claim is written with the item's version check, so a lost race retries with the next item.
    """
    for _ in range(CLAIM_NEXT_TRIES):
        try:
            with transaction(app.session_factory) as session:
                item_id = store.claimable_item(session, now, staff.email, staff.external_id, kind)
                if item_id is None:
                    return None
                review.claim(session, item_id, staff.email, now, app.settings.review)
                return item_id
        except (review.VersionConflict, review.ClaimedByOther, review.AlreadyResolved):
            continue
    return None


def claim(app: App, staff: Staff, item_id: int, now: datetime) -> None:
    with transaction(app.session_factory) as session:
        _refuse_own_item(session, staff, item_id)
        review.claim(session, item_id, staff.email, now, app.settings.review)


def unclaim(app: App, staff: Staff, item_id: int, now: datetime) -> None:
    """Release one's own claim so the item goes back to the queue."""
    with transaction(app.session_factory) as session:
        item = review.get_item(session, item_id)
        if item.claimed_by_id != staff.user_id:
            raise NotYourClaim(f"review item {item_id} is not claimed by you")
        if not review_store.update_item(session, item.id, item.version, claimed_by_id=None, claim_expires_at=None):
            raise review.VersionConflict(f"review item {item_id} was changed by someone else; reload it and try again")
        review_store.add_history(session, item.id, staff.user_id, "unclaimed", now)


# --- Item page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoLink:
    """An attachment as the item page shows it: by message and position, never by file name or path."""

    message_id: str
    position: int
    name: str
    is_image: bool
    outlines: tuple[Outline, ...] = ()
    """Where this item's findings were read on the photo, in the pixels of ``shown_size``."""
    shown_size: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class ShownMessage:
    id: str
    sender_id: str
    sent_at: datetime
    pieces: list[Piece]
    flagged: bool
    attachments: tuple[PhotoLink, ...] = ()


@dataclass(frozen=True)
class PartyView:
    person: Person
    role: str
    active_strikes: int
    strikes: list[StrikeRecord]


@dataclass(frozen=True)
class ItemPage:
    entry: QueueEntry
    version: int
    subject: str | None
    conversation_id: str
    order_id: str | None
    subject_user: str
    resolved_by: str | None
    resolution_note: str | None
    signals: list[dict[str, Any]]
    messages: list[ShownMessage]
    parties: list[PartyView]
    history: list[dict[str, Any]]
    revealed: bool
    about_self: bool
    claimed_by_me: bool
    sender_pending: list[int]
    """The pending items of this item's sender in this conversation (this one included): bulk-confirm's scope."""


def item_page(app: App, staff: Staff, item_id: int, now: datetime, reveal: bool = False, address: str | None = None) -> ItemPage:
    """Everything the item page shows; with ``reveal`` the flagged text is in the clear and the reveal is audited."""
    with transaction(app.session_factory) as session:
        item = review.get_item(session, item_id)
        detail = review.show_item(session, item_id, now, context=False)
        summary, buyer, seller = _parties(session, detail.conversation.external_id)
        subject_user = review_store.person(session, item.subject_user_id)
        about_self = any(_is_self(staff, p) for p in (buyer, seller, subject_user))
        if reveal:
            if about_self:
                raise OwnAccount(f"review item {item_id} is about your own account; another reviewer must handle it")
            audit(session, now, staff.email, "reveal", f"item {item_id}", address=address)
        parties = [PartyView(p, role, review.active_strike_count(session, p.id, now, app.settings.review),
                             review_store.sender_strikes(session, p.id)) for p, role in ((buyer, "buyer"), (seller, "seller"))]
        claimed_by_me = item.claimed_by_id == staff.user_id and item.claim_expires_at is not None and item.claim_expires_at > now
        signals = _with_places(session, detail.signals)
        page = ItemPage(detail.item, detail.version, summary.subject, summary.external_id, summary.order_id,
                        subject_user.external_id, detail.resolved_by, detail.resolution_note, signals,
                        _messages(session, item, reveal), parties, detail.history, reveal, about_self, claimed_by_me,
                        store.pending_items_in_conversation(session, item.conversation_id, item.subject_user_id))
    return page if about_self else replace(page, messages=_outlined(app, page.messages, signals))


def _with_places(session: Session, signals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Signals of attachment findings also name the file, page and region they were read from."""
    places = attachment_scans.places_of(session, [s["finding_id"] for s in signals])
    return [{**s, "attachment": places.get(s["finding_id"])} for s in signals]


def _messages(session: Session, item, reveal: bool) -> list[ShownMessage]:
    spans: dict[int, list[tuple[int, int, str]]] = {}
    for signal in review_store.signals(session, item.id):
        for span in signal.spans:
            spans.setdefault(span["message_id"], []).append((span["start"], span["end"], signal.kind))
        if not signal.spans:  # an attachment finding flags its message, not a text span
            spans.setdefault(item.message_id, [])
    flagged = review_store.message_positions(session, list(spans) or [item.message_id])
    rows = review_store.messages_around(session, item.conversation_id, min(flagged), max(flagged), CONTEXT_MESSAGES)
    masked = store.masked_bodies(session, [m.row_id for m in rows])
    attachments = store.attachments_of(session, [m.row_id for m in rows])
    shown = []
    for m in rows:
        if m.row_id in spans:
            parts = pieces(m.body, spans[m.row_id], masked=not reveal)
        else:
            parts = pieces(m.body if reveal else (masked.get(m.row_id) or m.body), [], masked=False)
        links = tuple(PhotoLink(a.message_id, a.position, a.original_name, a.content_type.lower().startswith("image/"))
                      for a in attachments.get(m.row_id, []))
        shown.append(ShownMessage(m.external_id, m.sender_id, m.sent_at, parts, m.row_id in spans, links))
    return shown


def _outlined(app: App, messages: list[ShownMessage], signals: list[dict[str, Any]]) -> list[ShownMessage]:
    """Photos on which a signal of this item was read get its region outlined, scaled to the shown size.

    The region is in the original's pixels, so the original's upright size is read from its header
    (only for photos with such a region); a photo whose original cannot be read is shown without.
    """
    regions: dict[tuple[str, int], list[tuple[str, list[int]]]] = {}
    blobs: dict[tuple[str, int], str] = {}
    for signal in signals:
        place = signal.get("attachment")
        if place is not None and place.region and place.page == 0:
            regions.setdefault((place.message_id, place.position), []).append((signal["kind"], place.region))
            blobs[(place.message_id, place.position)] = place.blob_key
    if not regions:
        return messages
    shown: list[ShownMessage] = []
    for message in messages:
        links = []
        for link in message.attachments:
            key = (link.message_id, link.position)
            original = _original_size(app, blobs[key]) if key in regions and link.is_image else None
            if original is not None:
                size = shown_size(original, PHOTO_SIDE)
                boxes = tuple(o for kind, region in regions[key] if (o := outline(kind, region, original, size)) is not None)
                link = replace(link, outlines=boxes, shown_size=size)
            links.append(link)
        shown.append(replace(message, attachments=tuple(links)))
    return shown


def _original_size(app: App, blob_key: str) -> tuple[int, int] | None:
    try:
        return upright_size(app.blobs.read(blob_key))
    except (BlobNotFound, FileNotFoundError):
        return None


# --- Photos ------------------------------------------------------------------------------------

# The console shows the same prepared variant as an evidence transcript, from the same cache.
PHOTO_SIDE = TranscriptOptions().thumbnail_side
PHOTO_MAX_PIXELS = TranscriptOptions().max_image_pixels


class PhotoNotShown(LookupError):
    """No such attachment in the item's conversation, or it is not a photo that can be prepared."""


def item_photo(app: App, staff: Staff, item_id: int, message_external_id: str, position: int) -> bytes:
    """The prepared photo (downscaled, EXIF-free JPEG) of one attachment in the item's conversation.

    The original never leaves the blob store: a cached variant is served as is, otherwise the
    original is read, its hash checked, its type sniffed from its bytes (not its name or the
    declared type) and prepared as transcripts do, then cached.
    """
    with app.session_factory() as session:
        _refuse_own_item(session, staff, item_id)
        item = review.get_item(session, item_id)
        found = store.attachment_in_conversation(session, item.conversation_id, message_external_id, position)
    if found is None:
        raise PhotoNotShown(f"item {item_id} has no attachment {position} on message {message_external_id}")
    cache = image_cache(app)
    cached = cache.load(found.sha256.lower(), PHOTO_SIDE)
    if cached is not None:
        return read_prepared(cached[0].ref)
    try:
        data = app.blobs.read(found.blob_key)
    except BlobNotFound:
        raise PhotoNotShown(f"attachment {position} on message {message_external_id} is missing from the file store") from None
    detected = sniff_content_type(data[:SNIFF_BYTES], guess_text=False)
    try:
        check_hash(data, TranscriptAttachment(found.original_name, found.content_type, found.size, found.sha256, found.blob_key))
        if detected not in RASTER_TYPES:
            raise NotRenderable(f"not a photo ({detected})")
        prepared = prepare_image(data, detected, PHOTO_SIDE, PHOTO_MAX_PIXELS)
    except NotRenderable as exc:
        raise PhotoNotShown(f"attachment {position} on message {message_external_id} cannot be shown: {exc}") from None
    cache.store(found.sha256.lower(), PHOTO_SIDE, detected, prepared)
    return prepared.data


def resolve(app: App, staff: Staff, item_id: int, outcome: str, reason: str | None, note: str | None, now: datetime,
            version: int | None = None, address: str | None = None) -> review.Resolution:
    """Decide an item with a canned reason (and a free note); audited."""
    if outcome not in OUTCOMES:
        raise review.UnknownOutcome(f"unknown outcome {outcome!r}")
    text = " — ".join(part.strip() for part in (reason, note) if part and part.strip()) or None
    with transaction(app.session_factory) as session:
        _refuse_own_item(session, staff, item_id)
        result = review.resolve(session, item_id, outcome, staff.email, now, app.settings, text, expected_version=version)
        audit(session, now, staff.email, "resolve", f"item {item_id}", address=address, note=text,
              detail={"outcome": outcome, "strike": result.strike_id, "steps": list(result.steps)})
    app.doorbell.deliver_mail()
    app.doorbell.deliver_webhooks()
    return result


@dataclass(frozen=True)
class BulkConfirmation:
    """What a bulk confirmation did: the items confirmed, the strikes they gave, the escalation steps."""

    items: tuple[int, ...]
    strikes: tuple[int, ...]
    steps: tuple[str, ...]


def confirm_sender_items(app: App, staff: Staff, item_id: int, reason: str | None, note: str | None, now: datetime,
                         address: str | None = None) -> BulkConfirmation:
    """Confirm every pending item of this item's sender in its conversation, all or nothing; each decision audited.

    Each item is decided by ``review.resolve``, so strikes follow the usual rules: one per
    incident at most, none for an incident that already gave one. If any item is claimed by
    another reviewer, or changes under us, nothing is confirmed.
    """
    text = " — ".join(part.strip() for part in (reason, note) if part and part.strip()) or None
    with transaction(app.session_factory) as session:
        _refuse_own_item(session, staff, item_id)
        item = review.get_item(session, item_id)
        item_ids = store.pending_items_in_conversation(session, item.conversation_id, item.subject_user_id, lock=True)
        if not item_ids:
            raise review.AlreadyResolved(f"review item {item_id} is already {item.status}, and its sender has no other pending item here")
        results = [review.resolve(session, each, "confirmed", staff.email, now, app.settings, text) for each in item_ids]
        for result in results:
            audit(session, now, staff.email, "resolve", f"item {result.item_id}", address=address, note=text,
                  detail={"outcome": "confirmed", "strike": result.strike_id, "steps": list(result.steps),
                          "bulk": list(item_ids)})
    app.doorbell.deliver_mail()
    app.doorbell.deliver_webhooks()
    return BulkConfirmation(tuple(item_ids), tuple(r.strike_id for r in results if r.strike_id is not None),
                            tuple(step for r in results for step in r.steps))


def add_note(app: App, staff: Staff, item_id: int, text: str, now: datetime) -> None:
    with transaction(app.session_factory) as session:
        review.get_item(session, item_id)
        review_store.add_history(session, item_id, staff.user_id, "note", now, note=text.strip()[:2000])


# --- Users -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserPage:
    person: Person
    active_strikes: int
    strikes: list[StrikeRecord]
    items: list[QueueEntry]
    conversations: list[ConversationSummary]
    about_self: bool


class UserNotFound(LookupError):
    """No user has this marketplace id."""


def user_page(app: App, staff: Staff, external_id: str, now: datetime) -> UserPage:
    with app.session_factory() as session:
        user_id = store.user_id_by_external_id(session, external_id)
        if user_id is None:
            raise UserNotFound(f"there is no user {external_id}")
        person = review_store.person(session, user_id)
        return UserPage(person, review.active_strike_count(session, user_id, now, app.settings.review),
                        review_store.sender_strikes(session, user_id),
                        [_entry(row, now) for row in store.items_of_user(session, user_id)],
                        store.conversations_of_user(session, user_id), _is_self(staff, person))


def overturn(app: App, staff: Staff, strike_id: int, reason: str, now: datetime, address: str | None = None) -> int:
    """Overturn a strike with a reason; audited. Returns the strike's item."""
    if not reason.strip():
        raise ReviewError("give a reason for overturning the strike")
    with transaction(app.session_factory) as session:
        strike = review_store.get_strike(session, strike_id)
        if strike is not None and _is_self(staff, review_store.person(session, strike.user_id)):
            raise OwnAccount(f"strike {strike_id} is on your own account; another reviewer must handle it")
        done = review.overturn_strike(session, strike_id, staff.email, now, app.settings, note=reason.strip())
        subject = review_store.person(session, done.user_id)
        audit(session, now, staff.email, "overturn", f"strike {strike_id}", address=address, note=reason.strip(),
              detail={"user": subject.external_id, "item": done.item_id})
        item_id = done.item_id
    app.doorbell.deliver_webhooks()
    return item_id


# --- Conversations and transcripts -------------------------------------------------------------


@dataclass(frozen=True)
class ConversationLine:
    summary: ConversationSummary
    buyer: Person
    seller: Person


def search(app: App, query: str) -> list[ConversationLine]:
    """Conversations by conversation id, order id, or a party's id or email."""
    if not query.strip():
        return []
    with app.session_factory() as session:
        return [ConversationLine(s, review_store.person(session, s.buyer_id), review_store.person(session, s.seller_id))
                for s in store.search_conversations(session, query)]


@dataclass(frozen=True)
class ConversationPage:
    line: ConversationLine
    messages: list[ShownMessage]
    transcripts: list[TranscriptRow]


class ConversationNotFound(LookupError):
    """No conversation has this id."""


def conversation_page(app: App, external_id: str) -> ConversationPage:
    """A conversation's parties, its messages as the marketplace shows them (masked) and its transcripts."""
    with app.session_factory() as session:
        summary = store.conversation_summary(session, external_id)
        if summary is None:
            raise ConversationNotFound(f"there is no conversation {external_id}")
        line = ConversationLine(summary, review_store.person(session, summary.buyer_id), review_store.person(session, summary.seller_id))
        messages = [ShownMessage(m.external_id, m.sender_id, m.sent_at, pieces(m.masked_body or m.body, [], False), False)
                    for m in store.conversation_messages(session, summary.id)]
        return ConversationPage(line, messages, store.transcript_requests(session, summary.id))


def request_transcript(app: App, staff: Staff, conversation_external_id: str, now: datetime, address: str | None = None) -> int:
    request_id = transcripts.request_transcript(app, conversation_external_id, f"console:{staff.email}", now)
    with transaction(app.session_factory) as session:
        audit(session, now, staff.email, "transcript_request", f"conversation {conversation_external_id}",
              detail={"transcript": request_id}, address=address)
    return request_id


def transcript_state(app: App, request_id: int) -> tuple[transcripts.TranscriptOutcome, str] | None:
    return transcripts.request_state(app, request_id)


def download_transcript(app: App, staff: Staff, request_id: int, now: datetime, address: str | None = None) -> tuple[bytes, str, str]:
    """The PDF's bytes, its SHA-256 and its conversation id; the download is audited with that hash."""
    state = transcripts.request_state(app, request_id)
    if state is None:
        raise TranscriptNotReady(f"there is no transcript {request_id}")
    outcome, conversation = state
    if outcome.status != "done" or outcome.pdf_path is None or not outcome.pdf_path.is_file():
        raise TranscriptNotReady(f"transcript {request_id} is {outcome.status}")
    pdf = outcome.pdf_path.read_bytes()
    sha256 = hashlib.sha256(pdf).hexdigest()
    if sha256 != outcome.pdf_sha256:
        raise TranscriptNotReady(f"transcript {request_id}'s file does not match its recorded SHA-256")
    with transaction(app.session_factory) as session:
        audit(session, now, staff.email, "transcript_download", f"conversation {conversation}", sha256=sha256,
              address=address, detail={"transcript": request_id, "bytes": len(pdf)})
    return pdf, sha256, conversation
