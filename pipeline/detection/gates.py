"""Cheap word-level gates so that most messages skip most detectors.

A realistic stream is mostly short clean chat ("would you do 1,390?"); building one set of the
message's words (with digit-for-letter swaps undone) and testing it against each detector's
trigger words costs a few microseconds, while running every pattern costs over a hundred.
Gates only ever skip work: a gate that passes means "run the detector", never "report".
"""

from __future__ import annotations

import re

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "|": "l"})
_WORD = re.compile(r"[a-z]+")
_LEETABLE = re.compile(r"[013457@$|]")


class MessageWords:
    """The lower-case words of a message (digit swaps undone), the text itself and its digit count."""

    __slots__ = ("words", "digits", "lowered")

    def __init__(self, words: frozenset[str], digits: int, lowered: str) -> None:
        self.words = words
        self.digits = digits
        self.lowered = lowered

    def any_word(self, vocabulary: frozenset[str]) -> bool:
        """True when the message contains one of ``vocabulary``'s words."""
        return not self.words.isdisjoint(vocabulary)

    def any_stem(self, stems: re.Pattern[str]) -> bool:
        """True when one of the literal ``stems`` occurs in the lower-cased, de-leeted text."""
        return stems.search(self.lowered) is not None


def stems(*literals: str) -> re.Pattern[str]:
    """Compile literal word stems into one pattern for ``MessageWords.any_stem``."""
    return re.compile("|".join(sorted(map(re.escape, literals), key=len, reverse=True)))


def message_words(text: str) -> MessageWords:
    """Build the gate view of a (normalised) message."""
    lowered = text.lower()
    if _LEETABLE.search(lowered):
        lowered = lowered.translate(_LEET)
    digits = sum(map(text.count, "0123456789"))
    return MessageWords(frozenset(_WORD.findall(lowered)), digits, lowered)
