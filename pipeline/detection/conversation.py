"""Conversation scanning: contact details split over consecutive messages ("555" / "867" / "5309").

Each message is scanned alone; then every window of up to ``window`` short messages from one
sender (skipping the other party's interjections) is joined with spaces and scanned again. A finding from a window is kept when it spans
several messages, or when it needed a neighbour's context and the message alone was clean.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from pipeline.detection import assembly
from pipeline.detection.checksums import crypto_address_chain, iban_valid
from pipeline.detection.context import keeps_to_platform
from pipeline.detection.findings import Finding, Span
from pipeline.detection.scanner import DEFAULT_PLATFORM_DOMAINS, scan_joined, scan_text, scan_text_without_phones

DEFAULT_WINDOW = 6
# Split attempts are made of short fragments; long messages are scanned alone, which also keeps
# the cost of windows linear in the conversation's length.
MAX_WINDOW_MESSAGE_CHARS = 300

ConversationMessage = str | tuple[str | None, str] | Mapping[str, object]
Scanner = Callable[[str], list[Finding]]


@dataclass(frozen=True, slots=True)
class Readings:
    """What a caller may already know of its messages' texts, to be used instead of working it out again.

    Each is a pure function of a text (``assembly.number_pieces``, ``assembly.kept_ranges``,
    ``assembly.kept_piece``), so a
    caller that remembers them per message (the scan stage: per conversation, across batches) gets
    the same findings. None: worked out once a stretch.
    """

    pieces_of: Callable[[str], list[assembly.Piece]] | None = None
    ranges_of: assembly.KeptRanges | None = None
    kept_of: assembly.KeptPiece | None = None  # ``assembly.kept_piece`` with these ``ranges_of``


@dataclass(frozen=True, slots=True)
class _Window:
    """A run of consecutive messages joined with single spaces."""

    indexes: tuple[int, ...]  # the conversation index of each joined message
    text: str
    offsets: tuple[int, ...]  # where each message starts in ``text``
    lengths: tuple[int, ...]

    def locate(self, start: int, end: int) -> list[Span]:
        """Split a span of the joined text into per-message spans."""
        spans = []
        for k, (offset, length) in enumerate(zip(self.offsets, self.lengths, strict=True)):
            lo, hi = max(start, offset), min(end, offset + length)
            if lo < hi:
                spans.append(Span(lo - offset, hi - offset, self.indexes[k]))
        return spans


def scan_conversation(
    messages: Sequence[ConversationMessage],
    *,
    platform_domains: Iterable[str] = DEFAULT_PLATFORM_DOMAINS,
    window: int = DEFAULT_WINDOW,
    scanner: Scanner | None = None,
) -> list[Finding]:
    """Return findings for a conversation; each names its messages and has per-message spans.

    ``scanner`` (``scan_text`` with these domains by default) scans each message alone; a caller
    scanning many conversations passes a ``cached_scanner`` to reuse what it already scanned.
    """
    domains = tuple(platform_domains)
    senders, texts = _unpack(messages)
    scan = scanner or (lambda text: scan_text(text, platform_domains=domains))
    alone = [[_in_message(f, i) for f in scan(text)] for i, text in enumerate(texts)]
    findings = [f for found in alone for f in found]
    seen = {_key(f) for f in findings}
    candidates = list(_candidates(senders, texts, domains, window, alone.__getitem__, None))
    for candidate in candidates:
        if _key(candidate) in seen or _covered(candidate, findings):
            continue
        seen.add(_key(candidate))
        findings.append(candidate)
    findings = _without_checkout_rails(_without_partial_addresses(findings), texts)
    return sorted(findings, key=_in_order)


def _candidates(
    senders: list[str | None], texts: list[str], domains: tuple[str, ...], window: int,
    alone: Callable[[int], list[Finding]], wanted: set[int] | None, readings: Readings | None = None,
) -> Iterable[Finding]:
    """Findings only the conversation reveals, in the order the de-duplication reads them.

    With ``wanted``, only the windows and pieces holding one of those messages are scanned: every
    finding that touches a wanted message comes from one of them, in the same order.
    """
    # Windows and assembled variants often join the same text (a variant with nothing dropped or
    # glued is its window): each distinct text is scanned once a stretch.
    joined, variant = _remembering(domains)
    # Windows and assembly windows start at the same messages: each run is walked once a stretch.
    runs = _Runs(senders, texts, window)
    yield from _window_findings(senders, texts, joined, window, wanted, runs)
    yield from _glued_identifiers(senders, texts, wanted)
    yield from _assembled(senders, texts, variant, window, wanted, readings, runs)
    yield from _answered_handles(senders, texts, alone, wanted)


def _remembering(domains: tuple[str, ...]) -> tuple[Callable[[str, list[str] | None], list[Finding]], Scanner]:
    """``scan_text`` with these domains, remembering each text's findings for as long as it is kept;
    and the scanner of assembled variants, which keep no phone finding (``_GLUED_KINDS``).

    A window's scan is given the messages it joins (``scan_joined``: the same findings, the gate's
    words read once a message). The variant scanner answers from the first one's memo when a window joined the same text, and
    otherwise with ``scan_text_without_phones`` (the same findings less phones, mostly without
    running the phone detector), remembered apart.
    """
    memo: dict[str, list[Finding]] = {}
    without_phones: dict[str, list[Finding]] = {}

    def scan(text: str, parts: list[str] | None = None) -> list[Finding]:
        # ``parts``: the messages a window joins (``text`` is them joined with spaces), read once each.
        found = memo.get(text)
        if found is None:
            found = memo[text] = (scan_text(text, platform_domains=domains) if parts is None
                                  else scan_joined(parts, platform_domains=domains))
        return found

    def scan_variant(text: str) -> list[Finding]:
        found = memo.get(text)
        if found is None:
            found = without_phones.get(text)
            if found is None:
                found = without_phones[text] = scan_text_without_phones(text, platform_domains=domains)
        return found

    return scan, scan_variant


def _in_order(finding: Finding) -> tuple[int, int]:
    return (finding.spans[0].message or 0, finding.start)


_EDGE_TOKEN = re.compile(r"[A-Za-z0-9]{4,}")
_CHECKOUT = re.compile(r"\b(?:checkout|check\s?out)\b", re.IGNORECASE)


def _glued_identifiers(senders: list[str | None], texts: list[str], wanted: set[int] | None = None) -> list[Finding]:
    """An address or IBAN cut across consecutive messages ("bc1q09lm..." | "h5gw3f..."): glue the pieces."""
    found: list[Finding] = []
    # The pieces glued from ``first`` lie in the three messages after it.
    for first in range(0 if wanted is None else max(0, min(wanted) - 3), len(texts) - 1):
        tail = _tail_piece(texts[first])
        if tail is None:
            continue
        glued, parts = tail[0], [(first, tail[1], tail[2])]
        for index in range(first + 1, min(len(texts), first + 4)):
            if not _same_sender(senders[first], senders[index]):
                continue
            head = _head_piece(texts[index])
            if head is None:
                break
            piece, offset = head
            glued += piece
            parts.append((index, offset, offset + len(piece)))
            value = _glued_value(glued)
            if value:
                spans = tuple(Span(s, e, m) for m, s, e in parts)
                match = " | ".join(texts[m][s:e] for m, s, e in parts)
                messages = tuple(m for m, _, _ in parts)
                # Glued pieces depend on nothing after the last one: without a wanted piece, it was found before.
                if wanted is None or not wanted.isdisjoint(messages):
                    found.append(Finding("payment", spans, match, value, 0.95, messages=messages))
                break
    return found


# Pure readings of one text, remembered: a message is read again as a neighbour in the next
# batches (each message is ``first`` for the three messages after it).
@lru_cache(maxsize=16384)
def _tail_piece(text: str) -> tuple[str, int, int] | None:
    """The last ``_EDGE_TOKEN`` in the text's last 64 characters, where it is (``rindex``) and where
    the text ends less trailing " .,:;"; None without one."""
    pieces = _EDGE_TOKEN.findall(text[-64:])
    if not pieces:
        return None
    return pieces[-1], text.rindex(pieces[-1]), len(text.rstrip(" .,:;"))


@lru_cache(maxsize=16384)
def _head_piece(text: str) -> tuple[str, int] | None:
    """The ``_EDGE_TOKEN`` the stripped text starts with and its first place in the text; None without one."""
    head = _EDGE_TOKEN.match(text.strip())
    return None if head is None else (head.group(), text.index(head.group()))


@lru_cache(maxsize=16384)  # pure; the same pieces are glued again for each later message within reach
def _glued_value(glued: str) -> str | None:
    """The chain of a crypto address, "iban", or None: what glued pieces are."""
    return crypto_address_chain(glued) or ("iban" if iban_valid(glued) else None)


_GLUED_KINDS = frozenset({"email", "url", "handle", "payment"})
"""What assembled variants report (no phones: numbers in pieces are ``assembly.assembled_numbers``'s)."""
MAX_ASSEMBLY_MESSAGES = 4


def _assembled(
    senders: list[str | None], texts: list[str], scan: Scanner, window: int, wanted: set[int] | None = None,
    readings: Readings | None = None, runs: _Runs | None = None,
) -> list[Finding]:
    """Numbers told in pieces with words between, and names or codes cut between messages (``assembly``)."""
    found: list[Finding] = []
    # A message is a member of several overlapping windows: read its pieces once a stretch (or
    # take them from the caller, who may have read them for an earlier stretch).
    readings = readings or Readings()
    pieces_of = readings.pieces_of or lru_cache(maxsize=None)(assembly.number_pieces)
    ranges_of = readings.ranges_of or lru_cache(maxsize=None)(assembly.kept_ranges)
    # Each member's kept pieces (text and ranges, with and without fillers) are worked out once
    # a stretch, not once per window and variant it is in.
    kept_of = readings.kept_of or lru_cache(maxsize=None)(lambda text, drop: assembly.kept_piece(text, drop, ranges_of))
    runs = runs or _Runs(senders, texts, window)
    size = min(window, MAX_ASSEMBLY_MESSAGES)
    for first in _starts(senders, len(texts) - 1, window, wanted):
        members = runs.members(first, size)
        if len(members) < 2 or (wanted is not None and wanted.isdisjoint(members)):
            continue
        number = assembly.assembled_numbers(texts, members, pieces_of)
        if number is not None:
            found.append(number)
        found.extend(assembly.glued_findings(texts, members, scan, _GLUED_KINDS, ranges_of, kept_of))
    return found


class _Runs:
    """``_members`` of one stretch, remembered by first message: the widest run (``window``) is
    walked once, and a narrower one is read from it.

    A walk for ``w <= window`` visits the same indexes as the widest one, in order, stopping at
    ``first + 2 * w`` instead of ``first + 2 * window`` and at ``w`` members instead of
    ``window``; both stop at the same long message. So its members are the widest run's members
    below ``first + 2 * w``, cut to ``w``.
    """

    __slots__ = ("senders", "texts", "window", "widest")

    def __init__(self, senders: list[str | None], texts: list[str], window: int) -> None:
        self.senders, self.texts, self.window = senders, texts, window
        self.widest: dict[int, list[int]] = {}

    def members(self, first: int, size: int) -> list[int]:
        widest = self.widest.get(first)
        if widest is None:
            widest = self.widest[first] = _members(self.senders, self.texts, first, self.window)
        if size >= self.window:
            return widest
        limit = first + 2 * size
        return [index for index in widest if index < limit][:size]


# Asking the other party for their name somewhere ("what's your name on it", "your @ there?",
# "cuál es tu usuario"), and the reply that is nothing but a username ("morgan_mike_cc").
_ASKS_FOR_NAME = re.compile(
    r"\b(?:what'?s|what\s+is|whats|send|give\s+me|drop)\s+(?:your|ur|yr)\s+(?:user\s?name|name|handle|@|tag|"
    r"gamer\s?tag|screen\s?name|nick(?:name)?|id)\b|\b(?:your|ur)\s+(?:user\s?name|handle|@|tag|nick)\s*(?:on|there|\?)"
    r"|\b(?:cual|qual)\s+(?:es|e)\s+(?:tu|seu|teu|o\s+seu|o\s+teu)\s+(?:usuario|nome|user|nick|id)\b"
    r"|\bwie\s+heisst\s+du\s+(?:auf|bei|da)\b|\bquel\s+est\s+ton\s+(?:pseudo|nom|id)\b",
    re.IGNORECASE,
)
_BARE_USERNAME = re.compile(r"^\s*@?(?P<user>(?=[\w.]*[_\d.])(?=[\w.]*[A-Za-z])[A-Za-z0-9][\w.]{2,29})\s*[.!]?\s*$")


def _answered_handles(
    senders: list[str | None], texts: list[str], alone: Callable[[int], list[Finding]], wanted: set[int] | None = None
) -> list[Finding]:
    """A bare username sent in reply to the other party asking for one is a handle.

    ``alone(k)`` is what message ``k`` yields alone: a handle there names the app the username is on.
    """
    found: list[Finding] = []
    for index, text in enumerate(texts):
        if wanted is not None and index not in wanted:
            continue
        match = _BARE_USERNAME.match(text)
        if match is None or match.group("user").replace(".", "").isdigit():
            continue
        asked = [k for k in range(max(0, index - 2), index) if _ASKS_FOR_NAME.search(texts[k])
                 and senders[k] is not None and senders[index] is not None and senders[k] != senders[index]]
        if not asked:
            continue
        apps = [f.value.split(":")[0] for k in range(max(0, index - 6), index) for f in alone(k) if f.kind == "handle"]
        user = match.group("user").lower()
        value = f"{apps[-1]}:{user}" if apps else f"username:{user}"
        span = Span(match.start("user"), match.end("user"), index)
        found.append(Finding("handle", (span,), match.group("user"), value, 0.8, messages=(index,)))
    return found


def _without_partial_addresses(findings: list[Finding]) -> list[Finding]:
    """An address (or a gift card's code) read from fewer messages gives way to one that overlaps it and spans more.

    "then at aaaa" / "dot com" alone reads "then@aaaa.com"; with the sender's earlier "aaaa.bbbb"
    reassembled, "aaaa.bbbb@aaaa.com" covers it and is the value to report.
    """
    addresses = [f for f in findings if _is_address(f)]
    if len(addresses) < 2:
        return findings
    drop = {
        id(f) for f in addresses for g in addresses
        if g is not f and g.kind == f.kind and (f.kind != "payment" or g.value == f.value)
        and len(set(g.messages)) > len(set(f.messages)) and _spans_overlap(f, g)
    }
    return [f for f in findings if id(f) not in drop]


def _is_address(finding: Finding) -> bool:
    """Kinds ``_without_partial_addresses`` compares: one may give way to a wider reading of it."""
    return finding.kind in ("email", "url") or (finding.kind == "payment" and finding.value == "gift_card")


def _spans_overlap(a: Finding, b: Finding) -> bool:
    """True when a span of ``a`` and a span of ``b`` overlap in the same message."""
    return any(x.message == y.message and x.start < y.end and y.start < x.end for x in a.spans for y in b.spans)


def _without_checkout_rails(findings: list[Finding], texts: list[str]) -> list[Finding]:
    """A rail asked about and then chosen at the platform's checkout ("PayPal? ... PayPal at checkout") is clean."""
    rails = {f.value for f in findings if f.kind == "payment" and f.value.isalpha() and f.value != "fee_avoidance"}
    if not rails:
        return findings
    at_checkout = {rail for rail in rails for text in texts if rail in text.lower().replace(" ", "") and _CHECKOUT.search(text)}
    # A rail only asked about ("do you take PayPal?") and answered with the checkout, or declined, is clean too.
    asked = {(f.value, m) for f in findings if f.kind == "payment" and f.value in rails for m in f.messages if "?" in texts[m]}
    answered = {(rail, m) for rail, m in asked
                if any(_CHECKOUT.search(t) or keeps_to_platform(t) for t in texts[m + 1 : m + 4])}
    if not at_checkout and not answered:
        return findings
    return [f for f in findings if not (f.kind == "payment" and (f.value in at_checkout or any((f.value, m) in answered for m in f.messages)))]


def _unpack(messages: Sequence[ConversationMessage]) -> tuple[list[str | None], list[str]]:
    """Accept plain strings, (sender, text) pairs or {"sender", "text"} mappings."""
    senders: list[str | None] = []
    texts: list[str] = []
    for message in messages:
        if type(message) is tuple and len(message) == 2 and type(message[1]) is str:
            # The scan stage's (role, body) pairs, without the Mapping check (an ABC's): what the last branch does.
            senders.append(_optional_str(message[0]))
            texts.append(message[1] or "")
        elif isinstance(message, str):
            senders.append(None)
            texts.append(message)
        elif isinstance(message, Mapping):
            senders.append(_optional_str(message.get("sender")))
            texts.append(str(message.get("text") or ""))
        else:
            senders.append(_optional_str(message[0]))
            texts.append(str(message[1] or ""))
    return senders, texts


def _optional_str(value: object) -> str | None:
    """Return ``value`` as a string, keeping None."""
    return None if value is None else str(value)


def _in_message(finding: Finding, index: int) -> Finding:
    """Attach a single-message finding to its message index."""
    spans = tuple(Span(s.start, s.end, index) for s in finding.spans)
    return Finding(finding.kind, spans, finding.match, finding.value, finding.score, finding.detector_version, (index,), finding.lang)


def _window_findings(
    senders: list[str | None], texts: list[str], scan: Callable[[str, list[str]], list[Finding]], window: int, wanted: set[int] | None = None,
    runs: _Runs | None = None,
) -> Iterable[Finding]:
    """Yield findings from every same-sender window of short messages, widest window first.

    Widest first, so that "stacker77 | at | outlook | dot com" is reported whole and the partial
    "stacker77@outlook" from a narrower window is then recognised as covered. With ``wanted``, only
    the windows holding one of those messages.
    """
    runs = runs or _Runs(senders, texts, window)
    for first in _starts(senders, len(texts), window, wanted):
        members = runs.members(first, window)
        for size in range(len(members), _narrowest(members, wanted) - 1, -1):
            parts = [texts[i] for i in members[:size]]
            found = scan(" ".join(parts), parts)  # ``_join``'s text; its offsets only for a finding to locate
            if not found:
                continue
            joined = _join(texts, members[:size])
            for finding in found:
                spans = [piece for span in finding.spans for piece in joined.locate(span.start, span.end)]
                if spans:
                    if finding.kind == "url":
                        finding, spans = _with_leading_fragments(finding, spans, texts, members[:size])
                    yield _window_finding(finding, spans, texts)


def _starts(senders: list[str | None], count: int, window: int, wanted: set[int] | None) -> Iterable[int]:
    """The first messages (below ``count``, in order) whose runs (``_members``, any ``w <= window``) may hold a wanted message.

    Members lie within twice the window from the first one and share its sender
    (``_same_sender``): a run starting further back, or at the other party's message, holds no
    wanted message, and walking it is skipped.
    """
    if wanted is None:
        return range(count)
    # ``_same_sender`` inlined (a Python call per candidate start cost more than the test).
    return sorted({first for index in wanted for sender in (senders[index],)
                   for first in range(max(0, index - 2 * window + 1), min(index + 1, count))
                   if sender is None or senders[first] is None or senders[first] == sender})


def _narrowest(members: list[int], wanted: set[int] | None) -> int:
    """The fewest leading members a window needs: two, or enough to reach a wanted message."""
    if wanted is None:
        return 2
    reach = next((k + 1 for k, index in enumerate(members) if index in wanted), len(members) + 1)
    return max(2, reach)


def _members(senders: list[str | None], texts: list[str], first: int, window: int) -> list[int]:
    """Indexes of up to ``window`` short messages by ``first``'s sender, starting at ``first``.

    The other party's interjections ("?", "ok") are skipped, so "415" / "?" / "555 0123" from one
    sender still joins; a long message from the same sender ends the run, as split attempts are
    made of fragments. The walk is bounded to twice the window.
    """
    if len(texts[first]) > MAX_WINDOW_MESSAGE_CHARS:
        return [first]
    members = [first]
    sender = senders[first]
    for index in range(first + 1, min(len(texts), first + 2 * window)):
        # ``_same_sender(sender, senders[index])``, inlined: this walk is made for every start of every stretch.
        if sender is not None and senders[index] is not None and senders[index] != sender:
            continue
        if len(texts[index]) > MAX_WINDOW_MESSAGE_CHARS or len(members) == window:
            break
        members.append(index)
    return members


def _same_sender(first: str | None, other: str | None) -> bool:
    """Unknown senders join anything; known ones only their own messages."""
    return first is None or other is None or first == other


def _join(texts: list[str], indexes: list[int]) -> _Window:
    """Join the given messages with single spaces, remembering each one's offset."""
    offsets, lengths, parts, cursor = [], [], [], 0
    for index in indexes:
        offsets.append(cursor)
        lengths.append(len(texts[index]))
        parts.append(texts[index])
        cursor += len(texts[index]) + 1
    return _Window(tuple(indexes), " ".join(parts), tuple(offsets), tuple(lengths))


def _with_leading_fragments(
    finding: Finding, spans: list[Span], texts: list[str], members: list[int]
) -> tuple[Finding, list[Span]]:
    """Prepend the one-word messages just before a split domain ("bullseye" | "bullion" | ". com").

    The detector reads only the last word before the dot as the domain's name; earlier one-word
    fragments from the same sender are pieces of the same name.
    """
    first = spans[0]
    if first.start != 0 or first.message not in members:
        return finding, spans
    position = members.index(first.message)
    leading: list[int] = []
    while position > 0 and _name_fragment(texts[members[position - 1]]):
        position -= 1
        leading.insert(0, members[position])
    if not leading:
        return finding, spans
    prefix = "".join(texts[i].strip().lower() for i in leading)
    value = prefix + finding.value
    extra = [Span(texts[i].index(texts[i].strip()), len(texts[i].rstrip()), i) for i in leading]
    return Finding(finding.kind, finding.spans, finding.match, value, finding.score, finding.detector_version, (), finding.lang), extra + spans


def _name_fragment(text: str) -> bool:
    """A message that is a single name-like word ("bullseye"), possibly part of a split domain."""
    word = text.strip()
    return 2 <= len(word) <= 24 and word.replace("-", "").isalnum() and word.isascii() and word.lower() == word


def _window_finding(finding: Finding, spans: list[Span], texts: list[str]) -> Finding:
    """Build a conversation finding from a window finding's per-message spans."""
    messages = tuple(sorted({s.message for s in spans if s.message is not None}))
    match = " | ".join(texts[s.message][s.start : s.end] for s in spans if s.message is not None)
    return Finding(finding.kind, tuple(spans), match, finding.value, finding.score, finding.detector_version, messages, finding.lang)


def _key(finding: Finding) -> tuple[object, ...]:
    """Identity of a finding for de-duplication across windows."""
    return (finding.kind, tuple((s.message, s.start, s.end) for s in finding.spans))


def _covered(candidate: Finding, findings: list[Finding]) -> bool:
    """True when a single-message window finding repeats one the message already produced."""
    if len(candidate.messages) > 1:
        return any(
            f.kind == candidate.kind and len(f.messages) > 1 and set(candidate.messages) <= set(f.messages)
            for f in findings
        )
    return any(
        f.kind == candidate.kind and f.messages == candidate.messages
        and any(a.start < b.end and b.start < a.end for a in f.spans for b in candidate.spans)
        for f in findings
    )


def context_findings(
    messages: Sequence[ConversationMessage],
    new_indexes: Iterable[int],
    *,
    platform_domains: Iterable[str] = DEFAULT_PLATFORM_DOMAINS,
    window: int = DEFAULT_WINDOW,
    scanner: Scanner | None = None,
    readings: Readings | None = None,
) -> list[Finding]:
    """Findings only the conversation reveals, involving or revealed by one of the new messages.

    These are the ones spread over several messages, or found in one message only with a
    neighbour's context; what a message yields alone (``scan_text``) is left out, since the
    caller stores that per message. A new message can reveal a detail in earlier ones alone
    ("208 7710" … "what's the number?"): that is reported too, so scanning a conversation in
    batches finds what scanning it whole finds, wherever the batches end. Indexes refer to ``messages``. Only the stretch that can
    reach a new message is looked at: twice the window before the first new message, because
    windows skip the other party's interjections. The answer is ``scan_conversation`` of that
    stretch, filtered; usually only the windows holding a new message need scanning for it
    (``_touching``). ``readings`` passes what the caller already read of the texts (``Readings``).
    """
    new = sorted(set(new_indexes))
    if not new:
        return []
    domains = tuple(platform_domains)
    first = max(0, new[0] - 2 * window)
    part = messages[first : new[-1] + 1]
    scan = scanner or (lambda text: scan_text(text, platform_domains=domains))
    wanted = {i - first for i in new}
    found, produced = _touching(part, wanted, domains, window, scan, readings)
    if found is None:
        found = _filtered_conversation(part, wanted, domains, window, scan, produced)
    return [_shifted(f, first) for f in found]


def _filtered_conversation(
    part: Sequence[ConversationMessage], wanted: set[int], domains: tuple[str, ...], window: int, scan: Scanner,
    revealed: set[tuple[object, ...]],
) -> list[Finding]:
    """``scan_conversation`` of the stretch, less what each message yields alone, touching a wanted
    message or among the ``revealed`` keys (what the windows holding a wanted message yield)."""
    _, texts = _unpack(part)
    alone = {_key(_in_message(f, i)) for i, text in enumerate(texts) for f in scan(text)}
    return [f for f in scan_conversation(part, platform_domains=domains, window=window, scanner=scan)
            if _key(f) not in alone and (wanted & set(f.messages) or _key(f) in revealed)]


def _revealed(
    part: Sequence[ConversationMessage], wanted: set[int], domains: tuple[str, ...], window: int, scan: Scanner
) -> set[tuple[object, ...]]:
    """The keys of everything the windows and pieces holding a wanted message yield (``_touching``
    collects the same set on its way; the full-scan references in the tests and bench use this)."""
    senders, texts = _unpack(part)
    return {_key(f) for f in _candidates(senders, texts, domains, window,
                                         lambda i: [_in_message(f, i) for f in scan(texts[i])], wanted)}


def _touching(
    part: Sequence[ConversationMessage], wanted: set[int], domains: tuple[str, ...], window: int, scan: Scanner,
    readings: Readings | None = None,
) -> tuple[list[Finding] | None, set[tuple[object, ...]]]:
    """``_filtered_conversation``'s answer from the windows holding a wanted message alone (or
    None), and the keys of everything those windows yield.

    Why it is the same answer: a finding's messages are the ones its spans touch, and it comes
    from a window (or pieces) holding them, so ``_candidates(wanted=...)`` yields every candidate
    touching a wanted message, in the full scan's order. Whether such a candidate is kept depends
    only on findings touching the same message: one with its spans (the key), one of its kind
    whose messages include all of its own (``_covered``) or, for one message, are its own. So the
    kept findings touching a wanted message are the same, and each of them is then dropped or
    not by ``_without_checkout_rails`` from the texts alone. Only ``_without_partial_addresses``
    compares a finding with findings elsewhere in the stretch (an address read from more
    messages, possibly without a wanted one); when a kept finding is such an address, None
    sends the caller to the full scan. So does a kept finding revealed in earlier messages
    alone: windows without a wanted message, not scanned here, may cover it.
    """
    senders, texts = _unpack(part)
    own: dict[int, list[Finding]] = {}

    def alone(index: int) -> list[Finding]:
        if index not in own:
            own[index] = [_in_message(f, index) for f in scan(texts[index])]
        return own[index]

    findings = [f for index in sorted(wanted) for f in alone(index)]
    seen = {_key(f) for f in findings}
    seeded = set(wanted)
    kept: list[Finding] = []
    produced: set[tuple[object, ...]] = set()
    for candidate in _candidates(senders, texts, domains, window, alone, wanted, readings):
        produced.add(_key(candidate))
        # A window holding a new message can reveal a detail in an earlier message alone
        # ("208 7710" … "what's the number?"): the full scan reports it, so this does too. What
        # those messages yield alone joins the comparison first, as in the full scan.
        for index in candidate.messages:
            if index not in seeded:
                seeded.add(index)
                findings.extend(alone(index))
                seen.update(_key(f) for f in alone(index))
        if _key(candidate) in seen or _covered(candidate, findings):
            continue
        seen.add(_key(candidate))
        findings.append(candidate)
        kept.append(candidate)
    if any(_is_address(f) or wanted.isdisjoint(f.messages) for f in kept):
        return None, produced
    return sorted(_without_checkout_rails(kept, texts), key=_in_order), produced


CACHED_TEXTS = 50_000
"""Texts a ``cached_scanner`` remembers before it starts again."""


def cached_scanner(platform_domains: Iterable[str] = DEFAULT_PLATFORM_DOMAINS) -> Scanner:
    """``scan_text`` with these domains, remembering each text's findings (findings are immutable).

    A message is scanned alone when it arrives and again as the context of each later message of
    its conversation; remembered, it is scanned once. Bounded (``CACHED_TEXTS``).
    """
    domains = tuple(platform_domains)
    memo: dict[str, list[Finding]] = {}

    def scan(text: str) -> list[Finding]:
        found = memo.get(text)
        if found is None:
            if len(memo) >= CACHED_TEXTS:
                memo.clear()
            found = memo[text] = scan_text(text, platform_domains=domains)
        return list(found)

    return scan


def _shifted(finding: Finding, offset: int) -> Finding:
    """The same finding with its message indexes moved by ``offset``."""
    spans = tuple(Span(s.start, s.end, None if s.message is None else s.message + offset) for s in finding.spans)
    messages = tuple(m + offset for m in finding.messages)
    return Finding(finding.kind, spans, finding.match, finding.value, finding.score, finding.detector_version, messages, finding.lang)
