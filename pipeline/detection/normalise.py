"""Text normalisation for contact detection, keeping a map back to the original offsets.

Evaders disguise identifiers with characters that look alike or are invisible; detectors work on a
normalised copy and every span they report is mapped back to the text the user actually wrote.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Cyrillic and Greek letters that render like Latin ones. A short hand-made list is enough: it
# covers the letters people substitute in "gmаil" or "νiber", and a longer list (Unicode's full
# confusables table) would start turning ordinary Greek and Russian words into false Latin.
CONFUSABLES: dict[str, str] = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ո": "n", "ս": "u",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}

# Letters spaced out one by one ("w w w . s h o p", "g-m-a-i-l", dotted or starred), four or more, with one
# consistent separator; digits are left alone because the phone detector reads their grouping, except
# one to three that end such a run ("g o l d b u g 7 7 at ..."): a name's suffix, too short for a number.
_SPACED_LETTERS = re.compile(r"(?<![\w@.])[A-Za-z@.]([ \-.*])[A-Za-z@.](?:\1[A-Za-z@.]){2,60}(?:(?:\1\d){1,3}(?!\1?\d))?(?![\w@])")

# Spelled-out or bracketed punctuation that turns prose into an address: "(at)", "[dot]",
# "(.)", " dot ", " slash ", and "@" or "." written with spaces around them.
_LINK_FORMS = re.compile(
    r"\s*[(\[{<]\s*(?:at|@|arroba)\s*[)\]}>]\s*"
    r"|\s*[(\[{<]\s*(?:dot|\.|punto|ponto)\s*[)\]}>]\s*"
    r"|(?<=\w) +dot +(?=\w)"
    r"|(?<=\w) +slash +(?=\w)"
    # "@" with a space after it joins; with a space before only, it joins when a domain follows
    # ("john @gmail.com"), since "follow me @coin_guy" is a handle, not an address.
    r"|(?<=\w) *@ +(?=[A-Za-z])|(?<=\w) +@(?=[A-Za-z][\w-]*\.[A-Za-z]|(?:gmail|yahoo|hotmail|outlook|proton|icloud|aol)\b)"
    r"|(?<=\w) +\. +(?=[A-Za-z])"
    # "name_AT_provider_DOT_com" (often in fullwidth letters, which NFKC has already folded).
    r"|(?<=[A-Za-z0-9])_at_(?=[A-Za-z0-9])|(?<=[A-Za-z0-9])_dot_(?=[A-Za-z])"
    # A dot detached on one side only, when a common TLD follows in lower case: "silverbarn .net".
    r"|(?<=\w) +\.(?=(?-i:com|net|org|co|io|shop|store|biz|info|us)\b)|(?<=\w)\. +(?=(?-i:com)\b)",
    re.IGNORECASE,
)

# Hints that a pass can change anything. Every match of _SPACED_LETTERS (four single characters)
# contains "sep x sep x sep", so that is the hint; a single "a" between spaces, common in prose,
# no longer sends a message down the slow path. Each pattern starts with one character class and
# checks the rest around it, which lets the regex engine skip from candidate to candidate.
_SPACED_HINT = re.compile(r"[ \-.*][A-Za-z@.][ \-.*][A-Za-z@.][ \-.*]")
_LINK_MARKERS = re.compile(
    r"[(\[{<@ ._](?:(?<=[(\[{<@])|(?<= )(?i:dot|slash|\.) |(?<= )\.[a-z]|(?<=\.) com\b|(?<=_)(?i:at|dot)_)"
)
# Whether a plain ASCII message needs any of the passes below (most need none), in C-level steps:
# a bytes translation into classes, substring tests, two spelled-out link words. This
# answers True wherever the single pattern it replaced did (tests/detection/test_fast_paths.py
# keeps that pattern), which entered the regex engine at every space: five times the cost on a
# long description. A message let through needlessly comes out of the passes unchanged.
# Byte classes of an ASCII text for those checks (decoded to str before testing: ``in`` on bytes
# first tries its operand as an integer and pays for the exception): "!" a sign that always needs a pass (a control
# character, or one of ( [ { < @ _), " " a separator of spaced letters (space, "-", "*"), "." the dot
# (a separator or a letter there), "a" a letter, "#" anything else (digits, tabs, other punctuation).
_WORK_CLASSES = bytes(
    33 if (c < 32 and c not in (9, 10, 13)) or c == 127 or chr(c) in "([{<@_"
    else 32 if chr(c) in " -*" else 46 if c == 46 else 97 if chr(c).isalpha() and c < 128 else 35
    for c in range(256)
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_CONTROLS = {c: " " for c in range(32) if chr(c) not in "\t\n\r"} | {127: " "}
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_CONFUSABLE_WORD = re.compile(r"[^\W\d_]*[" + "".join(CONFUSABLES) + r"][^\W\d_]*")


class NormalisedText:
    """A normalised copy of ``original`` and, per character, where it came from.

    A plain slotted class rather than a frozen dataclass: one is built per message and the
    frozen dataclass constructor costs a microsecond of the twenty-odd a message may take.
    """

    __slots__ = ("text", "original", "starts", "ends")

    def __init__(self, text: str, original: str, starts: list[int] | None = None, ends: list[int] | None = None) -> None:
        self.text = text
        self.original = original
        self.starts = starts
        self.ends = ends

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of the normalised text to the original text."""
        if self.starts is None or self.ends is None:
            return start, end
        if end <= start:
            position = self.starts[start] if start < len(self.starts) else len(self.original)
            return position, position
        return self.starts[start], self.ends[end - 1]

    def offsets(self) -> tuple[list[int], list[int]]:
        """Return explicit start/end maps, building the identity map when none is stored."""
        if self.starts is None or self.ends is None:
            return list(range(len(self.text))), list(range(1, len(self.text) + 1))
        return self.starts, self.ends


@lru_cache(maxsize=8192)
def fold_char(ch: str) -> str:
    """Fold one non-ASCII character to the ASCII-ish form detectors read ('' drops it)."""
    if ch in "\u00df\u1e9e":
        return "ss" if ch == "\u00df" else "SS"  # German sharp s: NFKC keeps it, readers spell it "ss"
    category = unicodedata.category(ch)
    if category in ("Cf", "Mn", "Me", "Cs", "Co", "Cn") or ch in "\u180e\u3164\u115f\u1160":
        return ""
    if category == "Cc" or category in ("Zs", "Zl", "Zp"):
        return " "
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    folded = unicodedata.normalize("NFKC", ch)
    if folded != ch:
        return "".join(c if c.isascii() else fold_char(c) for c in folded)
    digit = unicodedata.digit(ch, None)
    if digit is not None:
        return str(digit)  # Digits NFKC leaves alone, such as double-circled ones.
    if ch in CONFUSABLES:
        return ch
    return _strip_accent(ch)


def _strip_accent(ch: str) -> str:
    """Return the base Latin letter of an accented letter, or the character unchanged."""
    base = unicodedata.normalize("NFKD", ch)[:1]
    return base if base.isascii() and base.isalpha() else ch


def normalise(text: str) -> NormalisedText:
    """Normalise ``text`` for detection: fold Unicode, unhide invisibles, rejoin spelled-out links."""
    if text.isascii():
        if not _ascii_may_change(text):
            return NormalisedText(text, text)
        clean = text.translate(_ASCII_CONTROLS) if _CONTROL.search(text) else text
        folded = NormalisedText(clean, text)
    else:
        folded = _fold_non_ascii(text)
    collapsed = _rewrite(folded, _SPACED_LETTERS, _join_spaced) if _SPACED_HINT.search(folded.text) else folded
    if not _LINK_MARKERS.search(collapsed.text):
        return collapsed
    return _rewrite(collapsed, _LINK_FORMS, _link_symbol)


def _ascii_may_change(text: str) -> bool:
    """True whenever the former any-work pattern matched ASCII ``text`` (and only a few times more)."""
    classes = text.encode("ascii").translate(_WORK_CLASSES).decode("ascii")
    if "!" in classes or " ." in text or ". com" in text or _spaced_hint(text, classes):
        return True
    lowered = text.lower()
    return " dot " in lowered or " slash " in lowered


def _spaced_hint(text: str, classes: str) -> bool:
    """``_SPACED_HINT.search(text) is not None`` for ASCII ``text``, read from its byte classes.

    A dot can stand for a letter only between two separators (" . ", ".. "...); a text with no such
    place has every dot of a match in a separator's place, and the match reads " a a " once dots
    are spaces. Any other text, or one holding "@" (class "!"), asks the pattern.
    """
    if "!" in classes or " . " in classes or " .." in classes or ".. " in classes or "..." in classes:
        return _SPACED_HINT.search(text) is not None
    return " a a " in classes.replace(".", " ")


def _fold_non_ascii(text: str) -> NormalisedText:
    """Fold every non-ASCII run, recording the origin of each output character."""
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    cursor = 0
    for run in _NON_ASCII.finditer(text):
        if run.start() > cursor:
            _keep(text, cursor, run.start(), pieces, starts, ends)
        for index in range(run.start(), run.end()):
            folded = fold_char(text[index])
            pieces.append(folded)
            starts.extend([index] * len(folded))
            ends.extend([index + 1] * len(folded))
        cursor = run.end()
    if cursor < len(text):
        _keep(text, cursor, len(text), pieces, starts, ends)
    folded_text = _unconfuse("".join(pieces))
    return NormalisedText(folded_text, text, starts, ends)


def _keep(text: str, start: int, end: int, pieces: list[str], starts: list[int], ends: list[int]) -> None:
    """Copy an ASCII stretch unchanged (control characters become spaces)."""
    pieces.append(text[start:end].translate(_ASCII_CONTROLS))
    starts.extend(range(start, end))
    ends.extend(range(start + 1, end + 1))


# Cyrillic letters with no Latin look-alike: a message that has them is written in Cyrillic, and
# its words made only of look-alike letters ("Нет", "сто") are Russian, not disguised Latin.
_PLAIN_CYRILLIC = re.compile(r"[бгдёжзийлпфцчшщъыьэюяБГДЖЗИЙЛПФЦЧШЩЪЫЬЭЮЯ]")


_CONFUSABLE_CHARS = frozenset(CONFUSABLES)


def _unconfuse(text: str) -> str:
    """Replace look-alike letters in words that mix them with Latin or consist only of them."""
    if _CONFUSABLE_CHARS.isdisjoint(text):
        return text  # every match of _CONFUSABLE_WORD holds a look-alike letter: there is none to replace
    if _PLAIN_CYRILLIC.search(text):
        return _CONFUSABLE_WORD.sub(_unconfuse_mixed_word, text)
    return _CONFUSABLE_WORD.sub(_unconfuse_word, text)


def _unconfuse_mixed_word(match: re.Match[str]) -> str:
    """In Cyrillic text, map look-alike letters only in words that also hold Latin letters."""
    word = match.group()
    if any("a" <= c.lower() <= "z" for c in word):
        return "".join(CONFUSABLES.get(c, c) for c in word)
    return word


def _unconfuse_word(match: re.Match[str]) -> str:
    """Map one word's confusable letters when the word is plausibly meant as Latin."""
    word = match.group()
    has_latin = any("a" <= c.lower() <= "z" for c in word)
    all_confusable = all(c in CONFUSABLES or c.isascii() for c in word)
    if has_latin or all_confusable:
        return "".join(CONFUSABLES.get(c, c) for c in word)
    return word


def _join_spaced(match: re.Match[str]) -> str:
    """Drop the separators from a run of spaced-out letters."""
    return match.group().replace(match.group(1), "")


def _link_symbol(match: re.Match[str]) -> str:
    """Return the symbol a spelled-out link form stands for."""
    token = match.group().strip(" \t\n()[]{}<>_").lower()
    if token in ("at", "@", "arroba"):
        return "@"
    if token == "slash":
        return "/"
    return "."


def _rewrite(source: NormalisedText, pattern: re.Pattern[str], replace) -> NormalisedText:  # type: ignore[no-untyped-def]
    """Apply a regex rewrite to ``source`` and carry the offset map through it."""
    matches = list(pattern.finditer(source.text))
    if not matches:
        return source
    old_starts, old_ends = source.offsets()
    text = source.text
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    cursor = 0
    for match in matches:
        pieces.append(text[cursor : match.start()])
        starts.extend(old_starts[cursor : match.start()])
        ends.extend(old_ends[cursor : match.start()])
        replacement = replace(match)
        origin_start = old_starts[match.start()] if match.end() > match.start() else 0
        origin_end = old_ends[match.end() - 1] if match.end() > match.start() else 0
        pieces.append(replacement)
        starts.extend([origin_start] * len(replacement))
        ends.extend([origin_end] * len(replacement))
        cursor = match.end()
    pieces.append(text[cursor:])
    starts.extend(old_starts[cursor:])
    ends.extend(old_ends[cursor:])
    return NormalisedText("".join(pieces), source.original, starts, ends)
