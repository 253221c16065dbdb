"""The scan stage's detection, one conversation at a time, in plain tuples (pure: no database).

``usecases.scanning.detect`` calls it for a batch in the stage's own process; `run --once`'s
detection processes (``usecases.scan_processes``) run it as their main loop
(``python -m usecases.detecting``). It imports the detectors and nothing of storage, so a
detection process starts without SQLAlchemy and the models (0.18 s of CPU against 0.83 s with
``usecases.scanning``'s imports, measured on this machine).

A conversation of a batch comes in as ``(conversation_id, messages)``, each message an
``(id, role, body, new)`` tuple in conversation order (the batch's stretch of context: the
earlier messages detection reads, then the batch's messages, ``new`` true for those); it goes
out as a ``Found`` tuple. Records are ``Record`` tuples, ``storage.scanning.FindingRecord``'s
fields in order.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import NamedTuple

from pipeline.detection import Finding, mask_text, scan_text
from pipeline.detection.assembly import kept_piece, kept_ranges, number_pieces
from pipeline.detection.conversation import Readings, Scanner, context_findings
from pipeline.detection.masking import MASKED_KINDS
from pipeline.notices.contexts import redact

WINDOW = 6
"""Messages looked at together for attempts split across consecutive messages."""

Record = tuple  # (conversation_id, scope, kind, value, match, score, detector_version, ((message_id, start, end), ...))
Message = tuple  # (id, role, body, new)


class Found(NamedTuple):
    """What detection made of one conversation of a batch."""

    conversation_id: int
    alone: list[tuple[int, str | None, list[Record]]]  # per new message: id, masked body (None: unchanged), its own records
    split: list[Record]  # what the conversation reveals beyond each new message alone
    remasked: list[tuple[int, str]]  # messages a split finding touches, masked again with their parts of it


def detect_conversation(conversation_id: int, messages: Sequence[Message], domains: tuple[str, ...]) -> Found:
    """Each new message alone, then what its conversation reveals with it."""
    alone: dict[int, list[Finding]] = {}
    own: list[tuple[int, str | None, list[Record]]] = []
    for mid, _role, body, new in messages:
        if new:
            alone[mid] = scan_text(body, platform_domains=domains)
            own.append(_alone_result(conversation_id, mid, body, alone[mid]))
    memo = _MEMORY.take(conversation_id, domains)
    scan = _conversation_scanner(messages, alone, domains, memo.scans)
    split = _split_findings(messages, scan, memo)
    records = [_record("conversation", conversation_id, f, [m[0] for m in messages]) for f in split]
    remasked = _masked_with_split(messages, split, scan)
    _MEMORY.keep(conversation_id, domains, memo, messages[-(2 * WINDOW + 1) :])
    return Found(conversation_id, own, records, remasked)


def detect_alone(conversation_id: int, message_id: int, body: str, domains: tuple[str, ...]) -> tuple[int, str | None, list[Record]]:
    """A new message alone (one whose conversation's stretch was not given): ``Found.alone``'s entry for it."""
    return _alone_result(conversation_id, message_id, body, scan_text(body, platform_domains=domains))


def _alone_result(conversation_id: int, message_id: int, body: str, found: list[Finding]) -> tuple[int, str | None, list[Record]]:
    masked = mask_text(body, found)
    return message_id, None if masked == body else masked, [_record("message", conversation_id, f, [message_id]) for f in found]


class _ConversationMemo:
    """What detection read of one conversation's texts: each text alone, its number pieces, its kept ranges.

    All three are pure functions of the text (and the platform domains, part of the memo's key),
    so reusing them gives the same findings; a message is the context of its conversation's next
    messages, which usually come in later batches. Kept per conversation, not per text across
    conversations: a text repeated in many conversations ("Thanks!") is still read in each.
    """

    __slots__ = ("scans", "pieces", "ranges", "kept")

    def __init__(self) -> None:
        self.scans: dict[str, list[Finding]] = {}
        self.pieces: dict[str, list] = {}
        self.ranges: dict[tuple[str, bool], list[tuple[int, int]]] = {}
        self.kept: dict[tuple[str, bool], tuple[str, list[tuple[int, int]]]] = {}

    def pieces_of(self, text: str) -> list:
        found = self.pieces.get(text)
        if found is None:
            found = self.pieces[text] = number_pieces(text)
        return found

    def ranges_of(self, text: str, drop_fillers: bool) -> list[tuple[int, int]]:
        found = self.ranges.get((text, drop_fillers))
        if found is None:
            found = self.ranges[(text, drop_fillers)] = kept_ranges(text, drop_fillers)
        return found

    def kept_of(self, text: str, drop_fillers: bool) -> tuple[str, list[tuple[int, int]]]:
        found = self.kept.get((text, drop_fillers))
        if found is None:
            found = self.kept[(text, drop_fillers)] = kept_piece(text, drop_fillers, self.ranges_of)
        return found

    def trim(self, texts: set[str]) -> _ConversationMemo:
        """This memo, holding only these texts' readings, trimmed in place (the memo taken for a
        batch is this batch's alone, ``_Memory.take`` having removed it)."""
        for readings in (self.scans, self.pieces):
            if not texts.issuperset(readings):
                for text in [t for t in readings if t not in texts]:
                    del readings[text]
        for readings in (self.ranges, self.kept):
            for key in [k for k in readings if k[0] not in texts]:
                del readings[key]
        return self


class _Memory:
    """The ``_ConversationMemo`` of the most recently scanned conversations (bounded, least recently used out).

    Each batch takes a conversation's memo out and puts it back trimmed to the texts the next
    message's context can reach; threads of one worker process share it under a lock, and a memo
    taken by two threads at once is only read twice. In `run --once`'s detection processes each
    process is handed the same conversations every batch (``usecases.scan_processes``), so its
    memo holds what the conversation's next batch reads.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.memos: OrderedDict[tuple[int, tuple[str, ...]], _ConversationMemo] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, conversation_id: int, domains: tuple[str, ...]) -> _ConversationMemo:
        with self.lock:
            return self.memos.pop((conversation_id, domains), None) or _ConversationMemo()

    def keep(self, conversation_id: int, domains: tuple[str, ...], memo: _ConversationMemo,
             recent: Sequence[Message]) -> None:
        kept = memo.trim({m[2] for m in recent})
        with self.lock:
            self.memos[(conversation_id, domains)] = kept
            self.memos.move_to_end((conversation_id, domains))
            while len(self.memos) > self.size:
                self.memos.popitem(last=False)


CONVERSATIONS_REMEMBERED = 10_000
"""Conversations whose recent texts' readings detection keeps (``_Memory``): a few kB each."""
_MEMORY = _Memory(CONVERSATIONS_REMEMBERED)


def _conversation_scanner(
    messages: Sequence[Message], alone: dict[int, list[Finding]], domains: tuple[str, ...],
    known: dict[str, list[Finding]],
) -> Scanner:
    """``scan_text`` for one conversation of the batch, starting from the batch's scans of its new messages.

    Each text is scanned at most once here (a new message alone, then as context; an earlier
    message only when a rule needs it). ``known`` is the conversation's memo of texts scanned
    alone (``_ConversationMemo.scans``), filled here; nothing is remembered across
    conversations: a text repeated in many conversations ("Thanks!") is scanned in each, as
    traffic would make it.
    """
    known.update({m[2]: alone[m[0]] for m in messages if m[0] in alone})

    def scan(text: str) -> list[Finding]:
        found = known.get(text)
        if found is None:
            found = known[text] = scan_text(text, platform_domains=domains)
        return list(found)

    return scan


def _split_findings(messages: Sequence[Message], scan: Scanner, memo: _ConversationMemo | None = None) -> list[Finding]:
    """What the conversation reveals beyond each new message alone (split attempts, context)."""
    new_indexes = [i for i, m in enumerate(messages) if m[3]]
    readings = Readings(memo.pieces_of, memo.ranges_of, memo.kept_of) if memo is not None else None
    return context_findings([(m[1], m[2]) for m in messages], new_indexes, window=WINDOW, scanner=scan, readings=readings)


def _masked_with_split(messages: Sequence[Message], split: list[Finding], scan: Scanner) -> list[tuple[int, str]]:
    """The masked copy of every message a split finding touches: its own findings' spans plus its parts of the split ones."""
    parts: dict[int, list[tuple[int, int, str]]] = {}
    for finding in split:
        if finding.kind in MASKED_KINDS:
            for span in finding.spans:
                parts.setdefault(span.message or 0, []).append((span.start, span.end, finding.kind))
    remasked: list[tuple[int, str]] = []
    for index, spans in parts.items():
        body = messages[index][2]
        own = [(span.start, span.end, f.kind) for f in scan(body)
               if f.kind in MASKED_KINDS for span in f.spans]
        remasked.append((messages[index][0], redact(body, own + spans)))
    return remasked


def _record(scope: str, conversation_id: int, finding: Finding, message_ids: list[int]) -> Record:
    spans = tuple(
        (message_ids[span.message if span.message is not None else 0], span.start, span.end) for span in finding.spans
    )
    return (conversation_id, scope, finding.kind, finding.value, finding.match, finding.score, finding.detector_version, spans)


# --- A detection process of `run --once` (usecases.scan_processes) --------------------------------

_LENGTH = struct.Struct("<Q")


def send(stream, value: object) -> None:
    """Write one pickled value, length first."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def receive(stream) -> object:
    """Read one value ``send`` wrote; EOFError at the end of the stream."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    (length,) = _LENGTH.unpack(head)
    data = stream.read(length)
    if len(data) < length:
        raise EOFError
    return pickle.loads(data)


WARM_UP = (("call me at four one five 555 0123 or text me on whatsapp, pay by zelle to greg@example.com",
            "Is the 1 oz Gold Eagle still available? I can pay $2,150 shipped."),
           [("buyer", "my number is four one five"), ("buyer", "555 0123")])


def warm(domains: tuple[str, ...]) -> None:
    """Compile and load the detectors (and the split-message window) before the first batch needs them."""
    texts, chat = WARM_UP
    for text in texts:
        mask_text(text, scan_text(text, platform_domains=domains))
    context_findings(chat, [1], platform_domains=domains, window=WINDOW)


def serve(requests, replies) -> None:
    """Answer batches until the input ends: each request is ``(domains, conversations)``, each reply the ``Found`` list."""
    warmed: set[tuple[str, ...]] = set()
    while True:
        try:
            domains, conversations = receive(requests)
        except EOFError:
            return
        if domains not in warmed:
            warm(domains)
            warmed.add(domains)
        send(replies, [detect_conversation(cid, messages, domains) for cid, messages in conversations])


if __name__ == "__main__":
    # Replies go to the pipe the parent reads as stdout; anything printed goes to stderr instead.
    _replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # This module's own copy (not ``__main__``'s), so the answers unpickle as usecases.detecting.Found.
    from usecases import detecting

    detecting.serve(sys.stdin.buffer, _replies)
