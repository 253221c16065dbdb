"""Pieces of one identifier sent over several messages by one sender, put back together.

Two ways people split a contact detail so that no single message, and no plain join of the
messages, reads as one:

* **Numbers told in pieces with words between** ("serial is 07700" / "card number is 900" /
  "box says 274, ring all three together"; "empieza con cincuenta y cinco" / "luego cincuenta,
  cuarenta y uno" / "termina en veintiséis, noventa"). The digit groups of consecutive messages
  (digits, or number words of any language in ``data/languages.json``) are concatenated; a
  phone number that validates is reported only when the window also says the pieces belong
  together or that a number is meant (an assembly cue or a phone cue), so the trade's serials
  and prices spread over a conversation stay clean.
* **Names and codes cut between messages** ("first part: ZN4W" / "EMWJHX" / "SJP6 ... Amazon
  card"; "stacker" / "mike_88, PM there"; "my id starts yinbi" / "then _2024"), with filler words
  between the parts of a spelled-out address ("first name rick" / "then a dot and harlan" /
  "and then the usual at example dot com"). Variants of the joined window are built with the
  fillers of every language dropped and the pieces at eligible message boundaries glued, and
  scanned again; only findings that reach over a message boundary are kept.

Pure: data in, findings out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from pipeline.detection import languages, phones
from pipeline.detection.findings import Finding, Span
from pipeline.detection.normalise import normalise

# Digit groups a piece may be: standalone, not a price, a decimal, a date or a measure.
_DIGITS = re.compile(r"(?<![\w$€£#.,/:+-])\d{1,5}(?![\w%€£]|[.,/:-]\d)")
_EN_DIGIT = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
             "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_EN_WORD = "(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_EN_RUN = re.compile(rf"(?<![A-Za-z]){_EN_WORD}(?:[\s,-]+{_EN_WORD})+(?![A-Za-z])", re.IGNORECASE)
_MAX_PIECE_DIGITS = 5
_MAX_MESSAGE_DIGITS = 8
_MAX_PIECE_MESSAGE_CHARS = 160
_PRICE_AFTER = re.compile(r"\s*(?:%|percent|oz|ozt|g|kg|grams?|dollars?|bucks|usd|eur|each|ea|x\b)", re.IGNORECASE)
# "number" alone is not a cue: the trade says "cert number" and "serial number" all day.
_ENGLISH_PHONE_CUES = ("call", "text", "ring", "dial", "phone", "cell", "mobile", "whatsapp", "signal",
                       "telegram", "reach me", "hit me", "contact")
# A small number after these is a time or a count ("call after 6"), not a piece.
_TRADE_WORDS = frozenset({"number", "numero", "nummer", "numer", "no", "nr", "num"})
_TIME_BEFORE = re.compile(r"(?:\b(?:at|after|before|by|around|until|till|from|about|in)\s+)$", re.IGNORECASE)
# Digits a piece message may hold besides its pieces ("call after 6"); trade lines hold many more.
_MAX_OTHER_DIGITS = 2

Piece = tuple[int, int, str, str | None]  # start, end (in the message), digits, language


@lru_cache(maxsize=1)
def _cue_pattern() -> re.Pattern[str]:
    """Assembly cues of every language and the English phone cues, compiled on first use."""
    vocabulary = languages.VOCABULARY
    words = {w for w in (*vocabulary.assembly_cues, *_ENGLISH_PHONE_CUES, *vocabulary.phone_cues)
             if any(c.isalpha() for c in w) and w not in _TRADE_WORDS}
    latin = sorted((w for w in words if w.isascii()), key=len, reverse=True)
    other = sorted((w for w in words if not w.isascii()), key=len, reverse=True)
    parts = [r"(?<![a-z])(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in latin) + r")(?![a-z])"]
    if other:
        parts.append("|".join(re.escape(w) for w in other))
    return re.compile("|".join(parts), re.IGNORECASE)


@lru_cache(maxsize=1)
def _filler_pattern() -> re.Pattern[str]:
    """Filler words of every language (whole words), compiled on first use."""
    fillers = languages.VOCABULARY.fillers
    latin = sorted((w for w in fillers if w.isascii()), key=len, reverse=True)
    other = sorted((w for w in fillers if not w.isascii()), key=len, reverse=True)
    parts = [r"(?<![\w.@'])(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in latin) + r")(?![\w@'])"]
    if other:
        parts.append("|".join(re.escape(w) for w in other))
    return re.compile(r"(?:" + "|".join(parts) + r")[\s,:]*", re.IGNORECASE)


def has_cue(text: str) -> bool:
    """True when ``text`` says pieces go together, or that a number is meant."""
    return _cue_pattern().search(normalise(text).text) is not None


# --- numbers told in pieces -------------------------------------------------------------------


def number_pieces(text: str) -> list[Piece]:
    """The digit groups of one message: digits, number words of any vocabulary, English digit words."""
    if len(text) > _MAX_PIECE_MESSAGE_CHARS:
        return []
    folded = normalise(text)
    normal = folded.text
    found: list[Piece] = []
    for match in _DIGITS.finditer(normal):
        if _PRICE_AFTER.match(normal, match.end()):
            continue
        if len(match.group()) <= 2 and _TIME_BEFORE.search(normal, max(0, match.start() - 8), match.start()):
            continue
        found.append((match.start(), match.end(), match.group(), None))
    if any(c.isalpha() for c in normal):
        for start, end, digits, lang in languages.number_groups(normal):
            found.append((start, end, digits, lang))
        for match in _EN_RUN.finditer(normal):
            words = re.split(r"[\s,-]+", match.group().lower())
            found.append((match.start(), match.end(), "".join(_EN_DIGIT[w] for w in words), None))
    found.sort()
    pieces: list[Piece] = []
    for piece in found:
        if pieces and piece[0] < pieces[-1][1]:
            if piece[1] - piece[0] > pieces[-1][1] - pieces[-1][0]:
                pieces[-1] = piece
            continue
        pieces.append(piece)
    if not pieces or any(len(p[2]) > _MAX_PIECE_DIGITS for p in pieces) or sum(len(p[2]) for p in pieces) > _MAX_MESSAGE_DIGITS:
        return []
    written = sum(1 for c in normal if c.isdigit())
    if written - sum(len(p[2]) for p in pieces if p[3] is None and p[2] == normal[p[0]:p[1]]) > _MAX_OTHER_DIGITS:
        return []  # other numbers around (dates, decimals, certs): a trade line, not a piece
    return [(*folded.to_original(s, e), d, lang) for s, e, d, lang in pieces]


def assembled_numbers(texts: list[str], members: list[int], pieces_of: Callable[[str], list[Piece]] = number_pieces) -> Finding | None:
    """A phone number whose digit groups come one or more per message from ``members`` (in order).

    The sender's message after the pieces counts for the cue: it often says what they were
    ("ring all three together" may come after the last piece).
    """
    pieces: list[list[Piece]] = []
    for index in members:
        found = pieces_of(texts[index])
        if not found:
            break
        pieces.append(found)
    if len(pieces) < 2:
        return None
    following = texts[members[len(pieces)]] if len(pieces) < len(members) else ""
    for size in range(len(pieces), 1, -1):
        found = _assembled(texts, members, pieces[:size], following)
        if found is not None:
            return found
        last = pieces[size - 1]
        for keep in range(len(last) - 1, 0, -1):  # the last message may end with an unrelated number
            found = _assembled(texts, members, [*pieces[: size - 1], last[:keep]], following)
            if found is not None:
                return found
    return None


def _assembled(texts: list[str], members: list[int], pieces: list[list[Piece]], following: str) -> Finding | None:
    """The phone number the given pieces make, if it validates and the window has a cue."""
    size = len(pieces)
    digits = "".join(p[2] for group in pieces for p in group)
    if not 10 <= len(digits) <= 12 or not has_cue(" ".join(texts[i] for i in members[:size]) + " " + following):
        return None
    langs = [p[3] for group in pieces for p in group if p[3]]
    e164 = _validate(digits, langs)
    if e164 is None:
        return None
    spans = tuple(Span(s, e, members[k]) for k, group in enumerate(pieces) for s, e, _, _ in group)
    match = " | ".join(texts[span.message][span.start : span.end] for span in spans if span.message is not None)
    lang = next((lang for lang in langs if lang != "en"), None)
    return Finding("phone", spans, match, e164, 0.8, messages=tuple(members[:size]), lang=lang)


def _validate(digits: str, langs: list[str]) -> str | None:
    """E.164 of ``digits`` tried first in the regions of the languages the pieces were said in."""
    import phonenumbers  # first use only, as in phones.validate

    for lang in dict.fromkeys(langs):
        for region in languages.VOCABULARY.regions.get(lang, ()):
            try:
                parsed = phonenumbers.parse(digits, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(parsed):
                return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if digits.startswith("0") and len(digits) == 11:
        # A national number with a trunk 0 is read as British first: the UK's mobile numbers are
        # 07xxx xxxxxx, including the reserved drama range people use for examples.
        parsed = phonenumbers.parse(digits, "GB")
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return phones.validate(digits, False, allow_foreign=True, anywhere=True)


# --- names and codes cut between messages -------------------------------------------------------

_EDGE_END = re.compile(r"(?<![\w.-])(?P<token>[A-Za-z0-9][\w.-]*)$")
_EDGE_START = re.compile(r"^(?P<token>[\w.-]*[A-Za-z0-9])(?P<trail>[\s,;!?—–-]|\.(?:\s|$)|$)")
_SINGLE = re.compile(r"^[\w.-]+$")


class Variant:
    """A window's messages rewritten (fillers dropped, some boundaries glued), mapped back to them."""

    __slots__ = ("text", "segments")

    def __init__(self) -> None:
        self.text = ""
        # One run of copied characters each: variant offset, message, offset in message, length.
        self.segments: list[tuple[int, int, int, int]] = []

    def add(self, message: int, text: str, start: int, end: int) -> None:
        if start < end:
            self.segments.append((len(self.text), message, start, end - start))
            self.text += text[start:end]

    def locate(self, start: int, end: int) -> list[Span]:
        """Per-message spans of a span of the variant text.

        The characters a span covers, in variant order; consecutive ones from one message make one
        span from the first to the last (a dropped filler between them included).
        """
        spans: list[Span] = []
        for offset, message, position, length in self.segments:
            lo, hi = max(start, offset), min(end, offset + length)
            if lo >= hi:
                continue
            first, last = position + lo - offset, position + hi - offset
            if spans and spans[-1].message == message:
                spans[-1] = Span(spans[-1].start, last, message)
            else:
                spans.append(Span(first, last, message))
        return spans


def kept_ranges(text: str, drop_fillers: bool) -> list[tuple[int, int]]:
    """Ranges of ``text`` to keep: all of it, or the text between filler words."""
    stripped_start = len(text) - len(text.lstrip())
    stripped_end = len(text.rstrip())
    if not drop_fillers:
        return [(stripped_start, stripped_end)]
    ranges, cursor = [], stripped_start
    for start, end in _fillers_in(text, stripped_start, stripped_end):
        if start > cursor:
            ranges.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < stripped_end:
        ranges.append((cursor, stripped_end))
    return ranges


# The runs of characters a filler's lookarounds stop at ("[\w@']" in ASCII), and what follows a filler.
_ASCII_RUN = re.compile(r"[A-Za-z0-9_@']+")
_FILLER_TAIL = re.compile(r"[\s,:]*")
# What may not come right before a filler ("[\w.@']" in ASCII); a run started at ``start`` may have one.
_BEFORE_FILLER = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@'")


def _fillers_in(text: str, start: int, end: int) -> list[tuple[int, int]]:
    r"""Where ``_filler_pattern().finditer(text, start, end)`` matches, as (start, end) pairs.

    In an ASCII text (nearly every message), by looking each run of ``[A-Za-z0-9_@']`` up in a set
    (``_ascii_fillers``) instead of trying the pattern's alternation at every position. The same
    matches: a Latin filler (letters, digits, "_" and "'" only) must start where no ``[\w.@']``
    precedes and end where no ``[\w@']`` follows, so it is a whole run whose preceding character
    is not "." (nor, for a run cut at ``start``, a character of the run); each run matches at most one filler (the alternatives are distinct words), the
    match then takes the ``[\s,:]*`` after it, and the next match starts after that, where no
    run can start inside it. A non-ASCII filler matches no ASCII character, whatever its case
    (``_ascii_fillers`` checks it; otherwise it answers None and the pattern is used).
    """
    fillers = _ascii_fillers() if text.isascii() else None
    if fillers is None:
        return [(m.start(), m.end()) for m in _filler_pattern().finditer(text, start, end)]
    found: list[tuple[int, int]] = []
    for run in _ASCII_RUN.finditer(text, start, end):
        if run.group().lower() in fillers:
            first = run.start()
            if first == 0 or text[first - 1] not in _BEFORE_FILLER:
                found.append((first, _FILLER_TAIL.match(text, run.end(), end).end()))
    return found


@lru_cache(maxsize=1)
def _ascii_fillers() -> frozenset[str] | None:
    """The Latin filler words lower-cased, for ``_fillers_in``; None when a filler breaks its argument."""
    fillers = languages.VOCABULARY.fillers
    latin = [w for w in fillers if w.isascii()]
    if not all(re.fullmatch(r"[A-Za-z0-9_']+", w) for w in latin):
        return None
    for word in fillers:
        for c in word:
            if not c.isascii() and any(re.fullmatch(re.escape(c), chr(a), re.IGNORECASE) for a in range(128)):
                return None
    return frozenset(w.lower() for w in latin)


def _kept_text(text: str, ranges: list[tuple[int, int]]) -> str:
    if len(ranges) == 1:
        s, e = ranges[0]
        return text[s:e].strip()
    return " ".join([text[s:e].strip() for s, e in ranges]).strip()


@lru_cache(maxsize=16384)  # pure; a pair of neighbours meets again in the next windows and batches
def _glues(left: str, right: str) -> bool:
    """True when the last token of ``left`` and the first of ``right`` are pieces of one name or code.

    A piece is set apart on its side of the boundary: the whole message, or a token after a label
    ("first part: ZN4W", "at my own place, silverpeak") or before a break ("mike_88, PM there",
    "SJP6 — that's the card"). Two words of plain prose ("too" / "stacker") are never glued.
    """
    end = _EDGE_END.search(left)
    start = _EDGE_START.match(right)
    if end is None or start is None:
        return False
    a, b = end.group("token"), start.group("token")
    sentence_end = a.endswith(".") and b[:1].isupper() and not b.isupper()  # "No scratches at all." | "No, sold"
    if (a.endswith(("_", ".", "-")) and not sentence_end) or b.startswith(("_", ".", "-")):
        return True
    left_single, right_single = _SINGLE.match(left) is not None, _SINGLE.match(right) is not None
    labelled = left_single or left[: end.start()].rstrip().endswith((",", ":", ";", "=", "—", "–", "-"))
    set_off = right_single or right[start.end("token") :].lstrip()[:1] in ("", ",", ";", "!", "?", "—", "–", "-", ".", "(")
    if _code_piece(a) and _code_piece(b) and _coded(a + b):
        return labelled and set_off  # "code: ZN4W" / "EMWJHX — that's the card"
    if right_single:
        return labelled or _coded(a)
    return left_single and (set_off or _coded(b))


def _code_piece(token: str) -> bool:
    """Capitals and digits only ("ZN4W", "0000"), as redemption codes and keys are written."""
    return len(token) >= 3 and token.isalnum() and token.isascii() and token.upper() == token


def _coded(token: str) -> bool:
    """A token that mixes letters with digits or underscores: a piece of a code or username."""
    return ("_" in token or any(c.isdigit() for c in token)) and any(c.isalpha() for c in token)


KeptRanges = Callable[[str, bool], list[tuple[int, int]]]


KeptPiece = Callable[[str, bool], tuple[str, list[tuple[int, int]]]]


def kept_piece(text: str, drop_fillers: bool, ranges_of: KeptRanges = kept_ranges) -> tuple[str, list[tuple[int, int]]]:
    """What a message keeps in a variant: the kept text and the ranges it is read from."""
    ranges = ranges_of(text, drop_fillers)
    return _kept_text(text, ranges), ranges


def variants(texts: list[str], members: list[int], ranges_of: KeptRanges = kept_ranges,
             kept_of: KeptPiece | None = None) -> Iterable[Variant]:
    """The window with boundaries glued where pieces meet, with and without fillers.

    ``kept_of`` (``kept_piece`` with these ``ranges_of``, remembered by a caller building many
    windows of the same messages) stands for working each member's kept text out again.
    """
    for drop_fillers in (False, True):
        if kept_of is None:
            pieces = [(*kept_piece(texts[i], drop_fillers, ranges_of), i) for i in members]
        else:
            pieces = [(*kept_of(texts[i], drop_fillers), i) for i in members]
        pieces = [p for p in pieces if p[0]]
        glued = [_glues(a[0], b[0]) for a, b in zip(pieces, pieces[1:], strict=False)]
        if not drop_fillers and not any(glued):
            continue
        variant = Variant()
        for k, (_, ranges, index) in enumerate(pieces):
            if k and not glued[k - 1]:
                variant.text += " "
            text = texts[index]
            for r, (s, e) in enumerate(ranges):
                if k and glued[k - 1] and r == 0:
                    s = s + len(text[s:e]) - len(text[s:e].lstrip())
                if r == len(ranges) - 1 and k + 1 < len(pieces) and glued[k]:
                    e = s + len(text[s:e].rstrip())
                variant.add(index, text, s, e)
                if r < len(ranges) - 1 and not variant.text.endswith(" "):
                    variant.text += " "
        yield variant


def glued_findings(
    texts: list[str], members: list[int], scan: Callable[[str], list[Finding]], kinds: frozenset[str],
    ranges_of: KeptRanges = kept_ranges, kept_of: KeptPiece | None = None,
) -> list[Finding]:
    """Findings of ``kinds`` in the window's variants that reach over a message boundary."""
    found: list[Finding] = []
    for variant in variants(texts, members, ranges_of, kept_of):
        for finding in scan(variant.text):
            if finding.kind not in kinds:
                continue
            spans = [piece for span in finding.spans for piece in variant.locate(span.start, span.end)]
            messages = tuple(sorted({s.message for s in spans if s.message is not None}))
            if len(messages) < 2:
                continue
            match = " | ".join(texts[s.message][s.start : s.end] for s in spans if s.message is not None)
            found.append(Finding(finding.kind, tuple(spans), match, finding.value, round(finding.score * 0.95, 3),
                                 finding.detector_version, messages, finding.lang, finding.decoder))
    return found
