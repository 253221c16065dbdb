"""Importing: apply the marketplace's records (users, conversations, messages, read receipts) idempotently.

Two ways in share one applier: ``peerguard import FILE`` (attachments are files beside it) and the
HTTP API (attachments were uploaded first and are named by SHA-256). One savepoint per record and
one commit per batch; attachments reach the blob store before their message row; after each
commit the doorbell rings for the new messages. Idempotent by the marketplace's ids: a repeat
changes nothing, a changed message text is refused.
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import NamedTuple, TypeVar

from pipeline.files import SNIFF_BYTES, sniff_content_type
from pipeline.interchange import (
    AttachmentRef,
    ConversationRecord,
    InterchangeError,
    MessageRecord,
    ReadRecord,
    Record,
    UserRecord,
    parse_line,
    parse_record,
)
from storage import messaging as store
from storage.blobs import BlobNotFound, BlobStore, BlobTooLarge
from usecases import notifications, scanning

MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
T = TypeVar("T")
R = TypeVar("R", bound=Record)
BATCH_RECORDS = 20000
"""Records a file import applies and commits together at most: each batch costs a fixed few statements
(lookups, notification and read-mark writes), and a conversation's notification rows and read marks
are loaded, locked and written once per batch however many of its messages the batch holds (figures:
docs/benchmarks.md, "Bulk import, scan stage and response sync" and "s5-import")."""
BATCH_BYTES = 32 * 1024 * 1024
"""…or fewer, once their lines add up to this many bytes (bounds the memory a batch holds)."""
FIRST_BATCH_RECORDS = 2500
BATCH_GROWTH = 8
"""The first batch is small and each next one ``BATCH_GROWTH`` times larger, up to ``BATCH_RECORDS``: the
helper thread parses batch N+1 while batch N is applied, so only the first batch's parsing is not overlapped.
Parsing a record (orjson) costs about an eighth of applying it, so the next batch may be about eight times
larger and still be parsed in time; every batch loads, locks and rewrites the notification rows and read marks
of every conversation it touches, so fewer, larger batches write those rows fewer times (3-fold growth wrote
the 2,000 conversations' 4,000 rows and marks twice in the bench's import: docs/benchmarks.md, "s8-import")."""


class LineOutcome(NamedTuple):
    """What happened to one input record: created, updated, unchanged or error.

    A named tuple, not a frozen dataclass: an import makes one per line, and the dataclass's
    ``__init__`` (``object.__setattr__`` per field) cost ~40 ms of the main thread per 23,000.
    The batches hold parsed lines as ``(line_no, record)`` tuples next to these: tell them
    apart with ``isinstance(p, LineOutcome)``.
    """

    line_no: int
    status: str
    kind: str | None = None
    external_id: str | None = None
    error: str | None = None


@dataclass
class ImportReport:
    """Totals of an import and the per-line errors."""

    counts: dict[str, int] = field(default_factory=dict)
    errors: list[LineOutcome] = field(default_factory=list)

    def add(self, outcome: LineOutcome) -> None:
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        if outcome.status == "error":
            self.errors.append(outcome)


class ImportRejected(Exception):
    """A record is well formed but cannot be applied (dangling reference, conflict, unreadable file)."""


class MessageConflict(ImportRejected):
    """A known message id arrived with other content; messages are immutable."""


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector waits while one batch is applied, and runs as usual after.

    A batch allocates tens of thousands of objects that live until its end (records, rows,
    outcomes); each allocation burst set off a full collection that walked every object of the
    process (SQLAlchemy's and the models' too), a quarter of the importer's CPU in a profile.
    Nothing else runs in the process meanwhile (the file import is a command, not a server).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_DONE = object()


def _read_ahead(items: Iterator[T]) -> Iterator[T]:
    """``items``, produced one ahead by a helper thread; its exception is raised here, in order.

    Closing the returned iterator early (an error, or a caller that stops reading) stops the
    thread at its next item.
    """
    slots: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((item, None)):
                    return
            offer((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            offer((_DONE, exc))

    thread = threading.Thread(target=produce, name="import-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()  # a producer waiting for the slot gives up within its timeout
        thread.join()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class InterchangeImporter:
    """Applies interchange lines; attachment paths are resolved inside ``base_dir`` only."""

    def __init__(self, session_factory, blobs: BlobStore, base_dir: Path, *, clock: Callable[[], datetime] = _utcnow,
                 batch_size: int = BATCH_RECORDS, batch_bytes: int = BATCH_BYTES,
                 max_attachment_bytes: int = MAX_ATTACHMENT_BYTES, bulk: bool = True,
                 first_batch_size: int = FIRST_BATCH_RECORDS) -> None:
        self.session_factory = session_factory
        self.blobs = blobs
        self.base_dir = base_dir.resolve()
        self.clock = clock
        self.batch_size = batch_size
        self.first_batch_size = min(first_batch_size, batch_size)
        self.batch_bytes = batch_bytes
        self.max_attachment_bytes = max_attachment_bytes
        self.bulk = bulk
        """Consecutive messages applied together (``apply_message_run``); False: one savepoint a record (the reference)."""

    def import_lines(self, lines: Iterable[bytes],
                     on_commit: Callable[[list[int]], None] = lambda ids: None) -> Iterator[LineOutcome]:
        """Import numbered lines; after each commit, hand the new message ids to ``on_commit``.

        The bulk path reads, parses and stores the attachments of the next batch in a helper
        thread while this one applies the current batch: that thread gets the CPU while this
        one waits for PostgreSQL (psycopg releases the GIL), so the two overlap on two cores.
        """
        if not self.bulk:
            for batch in self._batches(lines):
                with _collector_paused():
                    outcomes = self._import_batch_one_by_one(batch, on_commit)
                yield from outcomes
            return
        for prepared in _read_ahead(self._prepared_batches(lines)):
            with _collector_paused():
                outcomes = self._apply_prepared(*prepared, on_commit)
            yield from outcomes

    def _batches(self, lines: Iterable[bytes]) -> Iterator[list[tuple[int, bytes]]]:
        """Numbered non-blank lines in batches of ``first_batch_size`` records, growing ``BATCH_GROWTH``-fold up to ``batch_size``."""
        batch: list[tuple[int, bytes]] = []
        size = 0
        limit = self.first_batch_size
        for line_no, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            batch.append((line_no, raw))
            size += len(raw)
            if len(batch) >= limit or size >= self.batch_bytes:
                yield batch
                batch, size = [], 0
                limit = min(limit * BATCH_GROWTH, self.batch_size)
        if batch:
            yield batch

    def _prepared_batches(self, lines: Iterable[bytes]) -> Iterator[tuple[list, dict[int, AttachmentSource]]]:
        for batch in self._batches(lines):
            parsed = [self._parse(line_no, raw) for line_no, raw in batch]
            # Blobs reach the store before the transaction opens (content-addressed, so a rolled-back
            # batch leaves at most an unreferenced blob); errors are kept for where the record meets them.
            yield parsed, self._prepare_attachments([p for p in parsed if not isinstance(p, LineOutcome)])

    def _apply_prepared(self, parsed: list[tuple[int, Record] | LineOutcome], attachments: dict[int, AttachmentSource],
                        on_commit: Callable[[list[int]], None]) -> list[LineOutcome]:
        applied: dict[int, Applied] = {}
        new_messages: list[int] = []

        def attempt() -> None:
            applied.clear()
            new_messages.clear()
            with store.unit_of_work(self.session_factory) as session:
                apply_records(session, [(i, p[1]) for i, p in enumerate(parsed) if not isinstance(p, LineOutcome)], applied,
                              new_messages, lambda index: attachments[parsed[index][0]], self.clock())

        try:
            scanning.retrying_deadlocks(attempt)
        except store.StorageRefused as exc:
            # The commit itself failed: nothing of this batch was stored, so say so per line.
            return [LineOutcome(p.line_no, "error", error=p.error) if isinstance(p, LineOutcome) else
                    LineOutcome(p[0], "error", _kind(p[1]), p[1].external_id, f"not stored, {exc}") for p in parsed]
        if new_messages:
            on_commit(new_messages)
        return [p if isinstance(p, LineOutcome) else
                LineOutcome(p[0], applied[i].status, _kind(p[1]), p[1].external_id, applied[i].error)
                for i, p in enumerate(parsed)]

    @staticmethod
    def _parse(line_no: int, raw: bytes) -> tuple[int, Record] | LineOutcome:
        try:
            return line_no, parse_line(raw)
        except InterchangeError as exc:
            return LineOutcome(line_no, "error", error=str(exc))

    def _prepare_attachments(self, parsed: list[tuple[int, Record]]) -> dict[int, AttachmentSource]:
        """Each message's attachments stored now; the source answers them (or raises their error) later."""
        sources: dict[int, AttachmentSource] = {}
        for line_no, record in parsed:
            stored: dict[int, store.StoredAttachment | ImportRejected] = {}
            for position, ref in enumerate(getattr(record, "attachments", ())):
                try:
                    stored[position] = self._store_attachment(position, ref)
                except ImportRejected as exc:
                    stored[position] = exc
            sources[line_no] = _replay(stored)
        return sources

    def _import_batch_one_by_one(self, batch: list[tuple[int, bytes]],
                                 on_commit: Callable[[list[int]], None]) -> list[LineOutcome]:
        outcomes: list[LineOutcome] = []
        new_messages: list[int] = []

        def attempt() -> None:
            outcomes.clear()
            new_messages.clear()
            with store.unit_of_work(self.session_factory) as session:
                outcomes.extend(self._import_one(session, line_no, raw, new_messages) for line_no, raw in batch)

        try:
            scanning.retrying_deadlocks(attempt)
        except store.StorageRefused as exc:
            # The commit itself failed: nothing of this batch was stored, so say so per line.
            return [LineOutcome(o.line_no, "error", o.kind, o.external_id, f"not stored, {exc}") for o in outcomes]
        if new_messages:
            on_commit(new_messages)
        return outcomes

    def _import_one(self, session, line_no: int, raw: bytes, new_messages: list[int]) -> LineOutcome:
        try:
            record = parse_line(raw)
        except InterchangeError as exc:
            return LineOutcome(line_no, "error", error=str(exc))
        kind = _kind(record)
        try:
            with store.savepoint(session):
                status = self._apply(session, record, new_messages)
        except (ImportRejected, InterchangeError, store.StorageRefused) as exc:
            return LineOutcome(line_no, "error", kind, record.external_id, str(exc))
        return LineOutcome(line_no, status, kind, record.external_id)

    def _apply(self, session, record: Record, new_messages: list[int]) -> str:
        return apply_record(session, record, new_messages, self._store_attachment, self.clock())

    def _store_attachment(self, position: int, ref: AttachmentRef) -> store.StoredAttachment:
        if ref.path is None:
            return uploaded_attachment(self.blobs, position, ref)
        path = self._resolve(ref)
        try:
            with path.open("rb") as stream:
                head = stream.read(SNIFF_BYTES)
                stream.seek(0)
                key, size = self.blobs.put_stream(stream, self.max_attachment_bytes)
        except BlobTooLarge:
            raise ImportRejected(f"attachment {str(ref.path)!r} is larger than {self.max_attachment_bytes} bytes") from None
        except OSError as exc:
            raise ImportRejected(f"attachment {str(ref.path)!r} cannot be read: {exc.strerror or exc}") from None
        return store.StoredAttachment(position, ref.name, sniff_content_type(head), size, key)

    def _resolve(self, ref: AttachmentRef) -> Path:
        candidate = self.base_dir.joinpath(*ref.path.parts)
        try:
            resolved = candidate.resolve(strict=True)
        except (FileNotFoundError, RuntimeError):
            raise ImportRejected(f"attachment {str(ref.path)!r} does not exist") from None
        # A symlink inside the folder may still point outside it.
        if not resolved.is_relative_to(self.base_dir):
            raise ImportRejected(f"attachment {str(ref.path)!r} leaves the import folder")
        if not resolved.is_file():
            raise ImportRejected(f"attachment {str(ref.path)!r} is not a regular file")
        return resolved


AttachmentSource = Callable[[int, AttachmentRef], store.StoredAttachment]


def apply_record(session, record: Record, new_messages: list[int], attachments: AttachmentSource, now: datetime) -> str:
    """Apply one record in the caller's transaction; return created, updated or unchanged."""
    if isinstance(record, UserRecord):
        return _apply_user(session, record)
    if isinstance(record, ConversationRecord):
        return _apply_conversation(session, record)
    if isinstance(record, ReadRecord):
        return _apply_read(session, record)
    return _apply_message(session, record, new_messages, attachments, now)


def uploaded_attachment(blobs: BlobStore, position: int, ref: AttachmentRef) -> store.StoredAttachment:
    """An attachment uploaded earlier (POST /v1/attachments), named by its SHA-256."""
    try:
        head, size = blobs.head(ref.sha256 or "", SNIFF_BYTES)
    except (BlobNotFound, ValueError):
        raise ImportRejected(f"attachment {ref.sha256!r} was not uploaded (POST /v1/attachments first)") from None
    return store.StoredAttachment(position, ref.name, sniff_content_type(head), size, ref.sha256 or "")


def _apply_message(session, record: MessageRecord, new_messages: list[int], attachments: AttachmentSource,
                   now: datetime) -> str:
    conversation = _require_conversation(session, record.conversation)
    sender = _require_user(session, record.sender, "sender")
    if sender not in (conversation.buyer_id, conversation.seller_id):
        raise ImportRejected(f"sender {record.sender!r} is not a participant of {record.conversation!r}")
    existing = store.stored_message(session, record.external_id)
    if existing is not None:
        if existing != store.StoredMessage(conversation.id, sender, record.text, record.sent_at):
            raise MessageConflict(f"message {record.external_id!r} already exists with other content; messages are immutable")
        return "unchanged"
    stored = [attachments(position, ref) for position, ref in enumerate(record.attachments)]
    message_id = store.insert_message(session, record.external_id, conversation.id, sender, record.text,
                                      record.sent_at, now, stored)
    new_messages.append(message_id)
    recipient = conversation.seller_id if sender == conversation.buyer_id else conversation.buyer_id
    notifications.message_recorded(session, conversation.id, recipient, message_id, record.sent_at, now)
    # Replying counts as reading: the sender has seen the conversation up to their own message.
    _read(session, conversation.id, sender, record.sent_at)
    return "created"


def _apply_read(session, record: ReadRecord) -> str:
    conversation = _require_conversation(session, record.conversation)
    reader = _require_user(session, record.user, "user")
    if reader not in (conversation.buyer_id, conversation.seller_id):
        raise ImportRejected(f"user {record.user!r} is not a participant of {record.conversation!r}")
    return "updated" if _read(session, conversation.id, reader, record.at) else "unchanged"


def _read(session, conversation_id: int, reader: int, at: datetime) -> bool:
    """Record the read and end the reader's unread streak up to ``at``; True if the receipt moved."""
    moved = store.mark_read(session, conversation_id, reader, at)
    if moved:
        notifications.conversation_read(session, conversation_id, reader, at)
    return moved


def _apply_user(session, record: UserRecord) -> str:
    return store.upsert_user(session, record.external_id, _user_values(record))


def _apply_conversation(session, record: ConversationRecord) -> str:
    buyer = _require_user(session, record.buyer, "buyer")
    seller = _require_user(session, record.seller, "seller")
    existing = store.conversation(session, record.external_id)
    if existing is not None and (existing.buyer_id, existing.seller_id) != (buyer, seller):
        raise ImportRejected(f"conversation {record.external_id!r} already exists with other participants")
    return store.upsert_conversation(session, record.external_id, buyer, seller,
                                     {"subject": record.subject, "order_ref": record.order_ref})


def _require_user(session, external_id: str, role: str) -> int:
    found = store.user_id(session, external_id)
    if found is None:
        raise ImportRejected(f"{role} {external_id!r} is not defined earlier in the file or stored")
    return found


def _require_conversation(session, external_id: str) -> store.ConversationRef:
    found = store.conversation(session, external_id)
    if found is None:
        raise ImportRejected(f"conversation {external_id!r} is not defined earlier in the file or stored")
    return found


# --- The HTTP API's way in --------------------------------------------------------------------

MAX_BATCH = 1000


@dataclass(frozen=True)
class RecordOutcome:
    """What happened to one API record; ``problem`` is invalid, rejected or conflict when it failed."""

    status: str
    kind: str | None
    external_id: str | None
    problem: str | None = None
    error: str | None = None


def ingest(app, objects: list[object], now: datetime) -> list[RecordOutcome]:
    """Apply API records in order, in one transaction; ring for new messages after the commit."""
    outcomes: list[RecordOutcome | None] = [None] * len(objects)
    parsed: list[tuple[int, Record]] = []
    kinds: dict[int, str | None] = {}
    for index, obj in enumerate(objects):
        kinds[index] = obj.get("type") if isinstance(obj, dict) and isinstance(obj.get("type"), str) else None
        try:
            parsed.append((index, parse_record(obj)))
        except InterchangeError as exc:
            outcomes[index] = RecordOutcome("error", kinds[index], None, "invalid", str(exc))
    applied: dict[int, Applied] = {}
    new_messages: list[int] = []

    def attempt() -> None:
        # Two processes applying records of one conversation at once (two web workers' group
        # commits) can deadlock; PostgreSQL rolls one back, and it is applied again from the start.
        applied.clear()
        new_messages.clear()
        with store.unit_of_work(app.session_factory) as session:
            apply_records(session, parsed, applied, new_messages,
                          lambda index: lambda position, ref: uploaded_attachment(app.blobs, position, ref), now)

    scanning.retrying_deadlocks(attempt)
    for index, record in parsed:
        result = applied[index]
        outcomes[index] = RecordOutcome(result.status, kinds[index], record.external_id, result.problem, result.error)
    if new_messages:
        scanning.ring_for(app, new_messages)
    return [outcome for outcome in outcomes if outcome is not None]


# --- Applying many records in one transaction ---------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """What applying one record did; ``problem`` is conflict or rejected when it failed."""

    status: str
    problem: str | None = None
    error: str | None = None


def apply_records(session, items: list[tuple[int, Record]], applied: dict[int, Applied], new_messages: list[int],
                  attachments_for: Callable[[int], AttachmentSource], now: datetime) -> None:
    """Apply records in order in the caller's transaction, filling ``applied`` by index.

    Consecutive users, conversations, or messages and read receipts are applied together
    (``apply_user_run``, ``apply_conversation_run``, ``apply_message_run``): a few statements for
    the whole run instead of several per record, with the same outcomes as one by one;
    records of each kind interleaved with others are grouped first (``_regrouped``).
    """
    def flush(run: list) -> None:
        if isinstance(run[0][1], (MessageRecord, ReadRecord)):
            apply_message_run(session, run, applied, new_messages, attachments_for, now)
        elif isinstance(run[0][1], UserRecord):
            apply_user_run(session, run, applied)
        else:
            apply_conversation_run(session, run, applied)

    run: list[tuple[int, Record]] = []
    for index, record in _regrouped(items):
        if run and _run_kind(run[0][1]) is not _run_kind(record):
            flush(run)
            run = []
        run.append((index, record))
    if run:
        flush(run)


def _run_kind(record: Record) -> type:
    """Records applied together: users, conversations, or messages with the read receipts among them."""
    return MessageRecord if isinstance(record, ReadRecord) else type(record)


def _regrouped(items: list[tuple[int, Record]]) -> list[tuple[int, Record]]:
    """``items`` with each stretch of records reordered: its users first, then its conversations,
    then its messages and read receipts, each kind in file order, so that each kind forms one run.

    An export by conversation ("u-1, u-2, c-1, its messages, u-3, c-2, …") otherwise alternates
    runs of one or two records, a few statements each: 20,000 messages went in at 200–750 msg/s
    against 8,000–20,000 grouped. The order changes no outcome. Messages and receipts need their
    conversation to exist; conversations need their buyer and seller to exist; users need nothing.
    So a stretch ends before a conversation record that one of its messages or receipts already
    named, and before a user record that one of its conversations already named when no record of
    that user came before the conversation in the stretch: every record still comes after exactly
    the records it depends on that it came after in the file. (A user record the parser accepted is
    always stored: the users table's only constraint is its external id, which the upsert handles.)
    Outcomes are kept by index and new message ids in message order, as before.
    """
    ordered: list[tuple[int, Record]] = []
    users: list[tuple[int, Record]] = []
    conversations: list[tuple[int, Record]] = []
    talk: list[tuple[int, Record]] = []
    named_conversations: set[str] = set()
    named_users: set[str] = set()  # named by a conversation of the stretch before any record of theirs in it
    defined_users: set[str] = set()

    def close() -> None:
        for kind in (users, conversations, talk):
            ordered.extend(kind)
            kind.clear()
        for names in (named_conversations, named_users, defined_users):
            names.clear()

    for item in items:
        record = item[1]
        if isinstance(record, (MessageRecord, ReadRecord)):
            talk.append(item)
            named_conversations.add(record.conversation)
        elif isinstance(record, ConversationRecord):
            if record.external_id in named_conversations:
                close()
            conversations.append(item)
            named_users.update(user for user in (record.buyer, record.seller) if user not in defined_users)
        else:
            if record.external_id in named_users:
                close()
            users.append(item)
            defined_users.add(record.external_id)
    close()
    return ordered


def _distinct_runs(run: list[tuple[int, R]]) -> list[list[tuple[int, R]]]:
    """``run`` as runs in which no external id repeats, applied in turn: each id's first record in
    the first, its second in the second, and so on. Records of one id keep their order; records of
    different ids (users, or conversations) do not depend on one another."""
    runs: list[list[tuple[int, R]]] = []
    seen: dict[str, int] = {}
    for item in run:
        rank = seen.get(item[1].external_id, 0)
        seen[item[1].external_id] = rank + 1
        if rank == len(runs):
            runs.append([])
        runs[rank].append(item)
    return runs


def _user_values(record: UserRecord) -> dict[str, object]:
    values: dict[str, object] = {"name": record.name, "email": record.email, "timezone": record.timezone,
                                 "away": record.away}
    if record.role is not None:
        # A line without a role never demotes an existing staff member.
        values["role"] = record.role
    if record.notify is not None:
        # Likewise a line without ``notify`` keeps the user's choice (made by CLI, API or unsubscribe).
        values["notify"] = record.notify
    return values


def apply_user_run(session, run: list[tuple[int, UserRecord]], applied: dict[int, Applied]) -> None:
    """Consecutive user records: one lookup, one insert of the new ones, an update for each changed one.

    A run that repeats an id goes as consecutive runs without repeats; one that the database
    refuses is applied one by one.
    """
    if len({record.external_id for _, record in run}) != len(run):
        for part in _distinct_runs(run):
            apply_user_run(session, part, applied)
        return None
    try:
        with store.savepoint(session):
            stored = store.users_by_external_id(session, [record.external_id for _, record in run])
            new: list[dict[str, object]] = []
            for index, record in run:
                values = _user_values(record)
                applied[index] = Applied(_upsert(session, "user", stored.get(record.external_id), values))
                if record.external_id not in stored:
                    new.append({"external_id": record.external_id, **values})
            store.insert_rows(session, "user", new)
    except store.StorageRefused:
        return _one_by_one(session, run, applied)
    return None


def apply_conversation_run(session, run: list[tuple[int, ConversationRecord]], applied: dict[int, Applied]) -> None:
    """Consecutive conversation records: one lookup of them and of their participants, one insert.

    A record the checks refuse (unknown participant, other participants than stored) goes
    through ``apply_one`` for the one-by-one path's words; a run that repeats an id goes as
    consecutive runs without repeats, and a refusal by the database sends the whole run one by one.
    """
    if len({record.external_id for _, record in run}) != len(run):
        for part in _distinct_runs(run):
            apply_conversation_run(session, part, applied)
        return None
    try:
        with store.savepoint(session):
            users = store.user_ids(session, [name for _, r in run for name in (r.buyer, r.seller)])
            stored = store.conversations_by_external_id(session, [record.external_id for _, record in run])
            new: list[dict[str, object]] = []
            for index, record in run:
                buyer, seller = users.get(record.buyer), users.get(record.seller)
                known = stored.get(record.external_id)
                if buyer is None or seller is None or (known and (known[0].buyer_id, known[0].seller_id) != (buyer, seller)):
                    applied[index] = apply_one(session, record, [], _no_attachments, _utcnow())
                    continue
                values = {"subject": record.subject, "order_ref": record.order_ref}
                applied[index] = Applied(_upsert(session, "conversation", (known[0].id, known[1]) if known else None,
                                                 values))
                if known is None:
                    new.append({"external_id": record.external_id, "buyer_id": buyer, "seller_id": seller, **values})
            store.insert_rows(session, "conversation", new)
    except store.StorageRefused:
        return _one_by_one(session, run, applied)
    return None


def _upsert(session, kind: str, stored: tuple[int, dict[str, object]] | None, values: dict[str, object]) -> str:
    """Created (the caller inserts it), or the stored row's changed fields updated: updated or unchanged."""
    if stored is None:
        return "created"
    row_id, current = stored
    changed = {key: value for key, value in values.items() if current[key] != value}
    if changed:
        store.update_row(session, kind, row_id, changed)
    return "updated" if changed else "unchanged"


def _no_attachments(position: int, ref: AttachmentRef) -> store.StoredAttachment:
    raise ImportRejected("only messages have attachments")  # users and conversations never ask


def _one_by_one(session, run: list[tuple[int, Record]], applied: dict[int, Applied]) -> None:
    for index, record in run:
        applied[index] = apply_one(session, record, [], _no_attachments, _utcnow())


def apply_one(session, record: Record, new_messages: list[int], attachments: AttachmentSource, now: datetime) -> Applied:
    """One record in its own savepoint: an error undoes only this record."""
    try:
        with store.savepoint(session):
            status = apply_record(session, record, new_messages, attachments, now)
    except MessageConflict as exc:
        return Applied("error", "conflict", str(exc))
    except (ImportRejected, InterchangeError, store.StorageRefused) as exc:
        return Applied("error", "rejected", str(exc))
    return Applied(status)


def apply_message_run(session, run: list[tuple[int, MessageRecord | ReadRecord]], applied: dict[int, Applied],
                      new_messages: list[int], attachments_for: Callable[[int], AttachmentSource], now: datetime) -> None:
    """Apply consecutive message records and read receipts together: one lookup of their
    conversations, one insert, one write of the notification rows, one of the receipts.

    A record the shared checks refuse (unknown conversation, sender or reader, not a participant)
    goes through ``apply_one``, which refuses it with the one-by-one path's words and writes nothing.
    A run that repeats a message id, or whose insert the database refuses, or where a reply reads
    only part of a streak, is applied one by one; a receipt that does is recounted in the plan. A message whose attachment is
    refused is still a repeat (unchanged or conflict) when stored, as one by one.
    """
    def one_by_one(items) -> None:
        for index, record in items:
            applied[index] = apply_one(session, record, new_messages, attachments_for(index), now)

    message_ids = [record.external_id for _, record in run if isinstance(record, MessageRecord)]
    if len(set(message_ids)) != len(message_ids):
        return one_by_one(run)
    conversations = store.conversations_with_participants(session, [record.conversation for _, record in run])
    # In run order: each message with what it inserts, each receipt with what it reads.
    ready: list[tuple[int, MessageRecord | ReadRecord, store.NewMessage | notifications.ReadNotice]] = []
    refused: dict[int, tuple[MessageRecord, int, int, ImportRejected]] = {}
    for index, record in run:
        conversation = conversations.get(record.conversation)
        reading = isinstance(record, ReadRecord)
        person = conversation.participant_id(record.user if reading else record.sender) if conversation else None
        if conversation is None or person is None:
            one_by_one([(index, record)])
            continue
        if reading:
            ready.append((index, record, notifications.ReadNotice(conversation.id, person, record.at)))
            continue
        try:
            source = attachments_for(index)
            stored = [source(position, ref) for position, ref in enumerate(record.attachments)]
        except ImportRejected as exc:
            # One by one, a stored message is compared before its attachments are looked at.
            refused[index] = (record, conversation.id, person, exc)
            continue
        ready.append((index, record, store.NewMessage(record.external_id, conversation.id, person, record.text,
                                                     record.sent_at, stored)))
    if refused:
        repeats = store.stored_messages(session, [record.external_id for record, *_ in refused.values()])
        for index, (record, conversation_id, sender, exc) in refused.items():
            existing = repeats.get(record.external_id)
            applied[index] = (_compare(record, existing, conversation_id, sender) if existing is not None
                              else Applied("error", "rejected", str(exc)))
    if not ready:
        return None

    def tally(inserted: dict[str, int]) -> tuple[dict[tuple[int, int], datetime],
                                                 list[notifications.MessageNotice | notifications.ReadNotice]]:
        reads: dict[tuple[int, int], datetime] = {}
        notices: list[notifications.MessageNotice | notifications.ReadNotice] = []
        for _, record, new in ready:
            if isinstance(new, notifications.ReadNotice):
                key = (new.conversation_id, new.reader_id)
                reads[key] = max(reads.get(key, new.at), new.at)
                notices.append(new)
            elif new.external_id in inserted:
                # Replying counts as reading: the sender has seen the conversation up to their own message.
                key = (new.conversation_id, new.sender_id)
                reads[key] = max(reads.get(key, new.sent_at), new.sent_at)
                notices.append(_notice(conversations[record.conversation], new, inserted[new.external_id]))
        return reads, notices

    news = [new for *_, new in ready if isinstance(new, store.NewMessage)]
    try:
        with store.savepoint(session):
            # What a receipt that stops inside a streak recounts, stored before this run's messages.
            later = notifications.messages_after(
                session, [new for *_, new in ready if isinstance(new, notifications.ReadNotice)])
            meanwhile = None
            if store.copies_messages(session, len(news)):
                # The notification rows are locked and loaded first, so that their new values are
                # computed here while the server stores the messages (a COPY in a helper thread).
                # Both participants' rows of every conversation the run touches: the pairs (conversation,
                # recipient) and (conversation, sender) of its messages, without a notice per message.
                touched = [conversations[external_id] for external_id in {record.conversation for _, record, _ in ready}]
                loaded = notifications.load_message_rows(session, [(c.id, c.buyer_id, c.seller_id) for c in touched])

                def meanwhile(inserted: dict[str, int]):
                    reads, notices = tally(inserted)
                    return reads, notifications.plan_message_rows(loaded, notices, now, later)
            inserted, planned = store.insert_new_messages_meanwhile(session, news, now, meanwhile) if news else ({}, None)
            if planned is None:  # not overlapped: a few messages, SQLite, or a repeat among them
                reads, notices = tally(inserted)
                # The other participant's unread streak grows; the sender's own streak ends at their reply.
                plan = notifications.messages_recorded(session, notices, now, later)
                if plan is None:
                    raise _NeedsOneByOne
            else:
                reads, plan = planned
                if plan is None:
                    raise _NeedsOneByOne
                notifications.planned_messages_recorded(session, plan)
            store.mark_read_many(session, reads)
            # Already stored (a repeat): compared below.
            raced = store.stored_messages(session, [new.external_id for new in news if new.external_id not in inserted])
    except (store.StorageRefused, _NeedsOneByOne):
        # Rolled back to the savepoint: the run's records go in one by one, each seeing the ones before it.
        return one_by_one([(index, record) for index, record, _ in ready])
    receipts = iter(plan.receipts_moved)
    for index, record, new in ready:
        if isinstance(new, notifications.ReadNotice):
            applied[index] = _UPDATED if next(receipts) else _UNCHANGED
        elif new.external_id in inserted:
            new_messages.append(inserted[new.external_id])
            applied[index] = _CREATED
        else:
            applied[index] = _compare(record, raced.get(new.external_id), new.conversation_id, new.sender_id)
    return None


_CREATED = Applied("created")  # one shared (frozen) instance for the thousands of new messages of a run
_UPDATED, _UNCHANGED = Applied("updated"), Applied("unchanged")


class _NeedsOneByOne(Exception):
    """A reply or receipt reads only part of an unread streak: the notification recount needs the records one by one."""


def _compare(record: MessageRecord, existing: store.StoredMessage | None, conversation_id: int, sender: int) -> Applied:
    """A repeat of a stored message: unchanged when identical, else a conflict (messages are immutable)."""
    if existing == store.StoredMessage(conversation_id, sender, record.text, record.sent_at):
        return Applied("unchanged")
    return Applied("error", "conflict",
                   f"message {record.external_id!r} already exists with other content; messages are immutable")


def _replay(stored: dict[int, store.StoredAttachment | ImportRejected]) -> AttachmentSource:
    """An attachment source answering what was stored before the transaction (or raising its error)."""
    def source(position: int, ref: AttachmentRef) -> store.StoredAttachment:
        found = stored[position]
        if isinstance(found, ImportRejected):
            raise found
        return found
    return source


def _kind(record: Record) -> str:
    return _kind_of(type(record))


@cache
def _kind_of(kind: type) -> str:
    return kind.__name__.removesuffix("Record").lower()


def _notice(conversation: store.ConversationParticipants, new: store.NewMessage,
            message_id: int) -> notifications.MessageNotice:
    recipient = conversation.seller_id if new.sender_id == conversation.buyer_id else conversation.buyer_id
    return notifications.MessageNotice(conversation.id, recipient, new.sender_id, message_id, new.sent_at)


@dataclass(frozen=True)
class Upload:
    """An attachment in the blob store: what a message then names it by."""

    sha256: str
    size: int
    content_type: str


def store_upload(app, stream, max_bytes: int = MAX_ATTACHMENT_BYTES) -> Upload:
    """Store an uploaded file (identical files are kept once); BlobTooLarge past ``max_bytes``."""
    key, size = app.blobs.put_stream(stream, max_bytes)
    head, _ = app.blobs.head(key, SNIFF_BYTES)
    return Upload(key, size, sniff_content_type(head))
