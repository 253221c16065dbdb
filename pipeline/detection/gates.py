"""Cheap word-level gates so that most messages skip most detectors.

A realistic stream is mostly short clean chat ("would you do 1,390?"); building one set of the
message's words (with digit-for-letter swaps undone) and testing it against each detector's
trigger words costs a few microseconds, while running every pattern costs over a hundred.
Gates only ever skip work: a gate that passes means "run the detector", never "report".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "|": "l"})
_WORD = re.compile(r"[a-z]+")
# Tokens mixing letters with digits or symbols ("z3lle", "wh@tsapp"); only these are de-leeted,
# so that plain numbers ("9400 7035") do not turn into spurious words ("aoo", "toes").
# Found in two linear steps (a quantifier-free search, then a split) because a single pattern
# with a star on each side of the junction backtracks quadratically on long digit runs.
# The pattern starts with a character class so the engine jumps from digit to digit (rarer than
# letters) and looks around each one; same answers as "[a-z][0-9@$|]|[0-9@$|][a-z]", a third of the cost.
_MIXED_JUNCTION = re.compile(r"[0-9@$|](?:(?<=[a-z][0-9@$|])|(?=[a-z]))")
_TOKEN = re.compile(r"[a-z0-9@$|]+")
# Where a token of _TOKEN is neither all letters nor all digits: at a symbol, or at a digit next
# to a letter (class-first, so the engine jumps from digit to digit).
_MIXED_SIGN = re.compile(r"[0-9@$|](?:(?<=[@$|])|(?<=[a-z][0-9])|(?=[a-z]))")
# ASCII bytes kept as they are when they may be part of a word (letters) or of a token, others turned into spaces:
# a bytes translation and a split find the words of an ASCII text for a third of a regex's ``findall``.
_ASCII_LETTERS = bytes(c if 97 <= c <= 122 else 32 for c in range(256))
_ASCII_TOKEN_CHARS = bytes(c if 97 <= c <= 122 or 48 <= c <= 57 or c in b"@$|" else 32 for c in range(256))


class Stems:
    """Word stems for ``MessageWords.any_stem``: alphabetic ones, and literals with spaces or symbols."""

    __slots__ = ("words", "literals")

    def __init__(self, words: tuple[str, ...], literals: tuple[str, ...]) -> None:
        self.words = words
        self.literals = literals


class WordFilter:
    """The words of a message that pass ``test`` (a pure function of one word), remembered across messages.

    Chat repeats its words: after a few messages nearly every word of a new one has been seen, and
    two set operations in C stand for a Python-level test of each word (on a long description,
    fifty words cost 50 k instructions that way). Each operation walks the message's few words,
    never the remembered ones. The sets are emptied when they hold more than ``limit`` words,
    which bounds memory on a stream of random tokens; ``forget`` empties them when what ``test``
    reads changes.
    """

    __slots__ = ("test", "seen", "passed", "limit")

    def __init__(self, test: Callable[[str], bool], limit: int = 100_000) -> None:
        self.test = test
        self.seen: set[str] = set()
        self.passed: set[str] = set()
        self.limit = limit

    def among(self, words: frozenset[str]) -> frozenset[str]:
        """The members of ``words`` that pass the test."""
        unknown = words.difference(self.seen)
        if unknown:
            if len(self.seen) > self.limit:
                self.forget()
                unknown = words  # the words seen before are forgotten too
            test, seen, passed = self.test, self.seen, self.passed
            for word in unknown:
                seen.add(word)
                if test(word):
                    passed.add(word)
        return words & self.passed

    def forget(self) -> None:
        """Drop every remembered answer."""
        self.seen.clear()
        self.passed.clear()


# The three-letter prefixes of every alphabetic stem any detector registered (at import time):
# a message's words are filtered against this set once, and each detector's test then looks at
# the few words that passed instead of searching the whole text with its own pattern.
_STEM_PREFIXES: set[str] = set()
_STEM_CANDIDATES = WordFilter(lambda word: word[:3] in _STEM_PREFIXES)


class MessageWords:
    """The lower-case words of a message (digit swaps undone), the text itself and its digit count."""

    __slots__ = ("words", "digits", "lowered", "_stem_candidates")

    def __init__(self, words: frozenset[str], digits: int, lowered: str) -> None:
        self.words = words
        self.digits = digits
        self.lowered = lowered
        self._stem_candidates: frozenset[str] | None = None

    def any_word(self, vocabulary: frozenset[str]) -> bool:
        """True when the message contains one of ``vocabulary``'s words."""
        return not self.words.isdisjoint(vocabulary)

    def any_stem(self, stems: Stems) -> bool:
        """True when a word of the lower-cased, de-leeted text starts with one of ``stems``."""
        candidates = self._stem_candidates
        if candidates is None:
            candidates = self._stem_candidates = _STEM_CANDIDATES.among(self.words)
        for word in candidates:
            if word.startswith(stems.words):
                return True
        for literal in stems.literals:
            if literal in self.lowered:
                return True
        return False


def stem_candidates(words: frozenset[str]) -> frozenset[str]:
    """The words that start like some registered alphabetic stem (its first three letters)."""
    return _STEM_CANDIDATES.among(words)


def stems(*literals: str) -> Stems:
    """Register literal word stems for ``MessageWords.any_stem``."""
    words = tuple(s for s in literals if s.isalpha() and len(s) >= 3)
    _STEM_PREFIXES.update(s[:3] for s in words)
    _STEM_CANDIDATES.forget()
    return Stems(words, tuple(s for s in literals if s not in words))


def _mixed_tokens(lowered: str) -> list[str]:
    """Return the tokens that mix letters with digits or symbols: ``[t for t in _TOKEN.findall(lowered) if not (t.isalpha() or t.isdigit())]``."""
    if not lowered.isascii():
        return [t for t in _TOKEN.findall(lowered) if not (t.isalpha() or t.isdigit())]
    return tokens_around(lowered, _MIXED_SIGN, _ASCII_TOKEN_CHARS)


def tokens_around(text: str, sign: re.Pattern[str], token_chars: bytes) -> list[str]:
    """The tokens of ASCII ``text`` that hold a match of ``sign``, each once, in order.

    A token is a run of the characters ``token_chars`` keeps (a 256-byte translation table that
    maps every other byte to a space). Each token is cut out around its first sign from the
    translated copy, so no Python-level test runs per token; the token's other signs are skipped.
    """
    found = sign.search(text)
    if found is None:
        return []
    spaced = text.encode("ascii").translate(token_chars).decode("ascii")
    tokens: list[str] = []
    while found is not None:
        position = found.start()
        end = spaced.find(" ", position)
        end = len(spaced) if end < 0 else end
        tokens.append(spaced[spaced.rfind(" ", 0, position) + 1 : end])
        found = sign.search(text, end)
    return tokens


def words_of(lowered: str) -> list[str]:
    """The runs of ASCII letters of a lower-cased text: the words ``message_words`` starts from."""
    return _words(lowered)


def _words(lowered: str) -> list[str]:
    """The runs of ASCII letters of ``lowered`` (``_WORD.findall``), by a bytes translation when it is ASCII."""
    if lowered.isascii():
        return lowered.encode("ascii").translate(_ASCII_LETTERS).decode("ascii").split()
    return _WORD.findall(lowered)


def message_words(text: str) -> MessageWords:
    """Build the gate view of a (normalised) message."""
    lowered = text.lower()
    words = _words(lowered)
    encoded = text.encode("utf-8", "surrogatepass")
    digits = len(encoded) - len(encoded.translate(None, b"0123456789"))
    if (digits or "@" in text or "$" in text or "|" in text) and _MIXED_JUNCTION.search(lowered):
        mixed = " ".join(_mixed_tokens(lowered)).translate(_LEET)
        words.extend(_words(mixed))
        lowered = lowered + " " + mixed
    return MessageWords(frozenset(words), digits, lowered)


def joined_message_words(parts: Sequence[str]) -> MessageWords:
    """``message_words(" ".join(parts))`` for ASCII ``parts``, from each part's remembered reading.

    A conversation's windows join the same messages again and again (each new message's windows
    are suffixes of one another, and each message is in the windows of the next dozen), so each
    part is read once (``_part_reading``) and the readings are combined. The same answer, because
    with ASCII text every step of ``message_words`` either works character by character or stops
    at the joining space, which is no letter, digit or token character:

    * ``lower`` maps each ASCII character alone, so the joined text lowers to the lowered parts
      joined with spaces;
    * words are runs of letters and digits are counted one by one: the words are the parts'
      words, the digits the sum of theirs;
    * ``_MIXED_JUNCTION`` matches one character of ``[0-9@$|]`` with a letter right before or after
      it; the space before a part's first character (or after its last) fails those tests as the
      ends of the part alone do, so the joined text has a junction exactly when a part has one (and
      then a digit or symbol, so the guard in front of it holds too);
    * ``tokens_around`` cuts tokens of token characters (a space ends one) around each match of
      ``_MIXED_SIGN``, whose look-arounds read one character either side: the joined text's tokens
      are the parts' tokens in order, so its de-leeted mixed string is theirs joined with spaces
      (a part without tokens adds nothing) and its words are theirs.

    The words go into a set, so their order does not matter; ``lowered`` is built in
    ``message_words``' order. tests/detection/test_joined_words.py compares the two on generated parts.
    """
    readings = [_part_reading(part) for part in parts]
    lowered = " ".join([r[0] for r in readings])
    words = frozenset().union(*[r[1] for r in readings])
    if any(r[3] for r in readings):
        words = words.union(*[r[5] for r in readings])
        lowered = lowered + " " + " ".join([r[4] for r in readings if r[4]])
    return MessageWords(words, sum([r[2] for r in readings]), lowered)


@lru_cache(maxsize=16384)  # pure; a message is a part of many windows, in this batch and the next ones
def _part_reading(part: str) -> tuple[str, frozenset[str], int, bool, str, frozenset[str]]:
    """What ``joined_message_words`` needs of one ASCII part: lowered, words, digits, whether it has a
    junction, its de-leeted mixed tokens joined with spaces, and their words."""
    lowered = part.lower()
    digits = len(part) - len(part.encode("ascii").translate(None, b"0123456789"))
    mixed = " ".join(tokens_around(lowered, _MIXED_SIGN, _ASCII_TOKEN_CHARS)).translate(_LEET)
    return (lowered, frozenset(_words(lowered)), digits, _MIXED_JUNCTION.search(lowered) is not None,
            mixed, frozenset(_words(mixed)))
