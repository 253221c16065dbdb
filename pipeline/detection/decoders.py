"""Reshaped text: decode it, scan the decoded copy, report on the encoded stretch.

Evaders write an identifier so that it reads only after a transformation: upside down, in tag
characters that render as nothing, in regional-indicator letters, backwards, in Morse or the NATO
alphabet, in pig latin, as homophones ("won fife"), in leet, with letters between the digits, or
in base64. Each decoder runs only when a cheap test on the message says it may apply, and most
messages pass none of them. A finding from a decoded copy spans the whole encoded stretch of
the original and names the decoder in ``decoded``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator

from pipeline.detection.gates import MessageWords, WordFilter, tokens_around

# --- character maps --------------------------------------------------------------------------

_UPSIDE_DOWN = dict(zip(
    "ɐqɔpǝɟƃɥᴉɾʞlɯuodbɹsʇnʌʍxʎzƖᄅƐㄣϛ9ㄥ86˙¿¡ⅎƆᗡƎℲ⅁ſꞰ˥WԀΌᴚ⊥∩ΛM⅄",
    "abcdefghijklmnopqrstuvwxyz123456789.?!FCDEFGJKLMPQRTUVWY", strict=False,
))
_UPSIDE_ONLY = frozenset("ɐɔǝɟƃɥᴉɾʞɯɹʇʌʍʎƖᄅƐㄣϛㄥ˙")
_RESHAPED = re.compile(r"[\U000E0020-\U000E007E\U0001F1E6-\U0001F1FFɐɔǝɟƃɥᴉɾʞɯɹʇʌʍʎƖᄅƐㄣϛㄥ]")
_TAG_RUN = re.compile(r"[\U000E0001\U000E0020-\U000E007F]+")
_REGIONAL_RUN = re.compile(r"[\U0001F1E6-\U0001F1FF](?:[\U0001F1E6-\U0001F1FF\s.@_-]*[\U0001F1E6-\U0001F1FF])?")

NATO = {
    "alfa": "a", "alpha": "a", "bravo": "b", "charlie": "c", "delta": "d", "echo": "e", "foxtrot": "f", "golf": "g",
    "hotel": "h", "india": "i", "juliett": "j", "juliet": "j", "kilo": "k", "lima": "l", "mike": "m", "november": "n",
    "oscar": "o", "papa": "p", "quebec": "q", "romeo": "r", "sierra": "s", "tango": "t", "uniform": "u", "victor": "v",
    "whiskey": "w", "whisky": "w", "xray": "x", "x-ray": "x", "yankee": "y", "zulu": "z", "niner": "9",
}
_NATO_WORDS = frozenset(w for w in NATO if w.isalpha())
_NATO_RUN = re.compile(
    r"(?<![A-Za-z])(?:" + "|".join(sorted(NATO, key=len, reverse=True)) + r")(?:[\s,]+(?:" + "|".join(sorted(NATO, key=len, reverse=True))
    + r"))+(?![A-Za-z])",
    re.IGNORECASE,
)
MORSE = {
    ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g", "....": "h", "..": "i",
    ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n", "---": "o", ".--.": "p", "--.-": "q", ".-.": "r",
    "...": "s", "-": "t", "..-": "u", "...-": "v", ".--": "w", "-..-": "x", "-.--": "y", "--..": "z",
    "-----": "0", ".----": "1", "..---": "2", "...--": "3", "....-": "4", ".....": "5", "-....": "6", "--...": "7",
    "---..": "8", "----.": "9", ".-.-.-": ".", ".--.-.": "@",
}
# Class-first (the engine jumps from dot to dash instead of trying every position), the left
# boundary checked behind the first sign; same matches as "(?<![\w.-])[.\-]{1,6}(?:\s*/?\s*[.\-]{1,6}){5,}(?![\w.-])".
_MORSE_RUN = re.compile(r"[.\-](?<![\w.\-][.\-])[.\-]{0,5}(?:\s*/?\s*[.\-]{1,6}){5,}(?![\w.-])")
_MORSE_DASHES = str.maketrans({"–": "-", "—": "-", "·": ".", "•": ".", "_": "-", "−": "-"})
# Homophones of digits that are not ordinary words in trade chat ("for" and "to" alone are).
HOMOPHONES = {"won": "one", "wun": "one", "fife": "five", "ate": "eight", "tree": "three", "niner": "nine",
              "fower": "four", "sicks": "six", "sevin": "seven", "nein": "nine", "to": "two", "too": "two",
              "for": "four", "fore": "four", "oh": "oh", "zero": "zero", "one": "one", "two": "two", "three": "three",
              "four": "four", "five": "five", "six": "six", "seven": "seven", "eight": "eight", "nine": "nine"}
_STRICT_HOMOPHONES = frozenset({"won", "wun", "fife", "ate", "tree", "niner", "fower", "sicks", "sevin", "nein", "fore"})
_HOMOPHONE_RUN = re.compile(
    r"(?<![A-Za-z])(?:" + "|".join(HOMOPHONES) + r")(?:[\s,.\-]+(?:" + "|".join(HOMOPHONES) + r")){4,}(?![A-Za-z])",
    re.IGNORECASE,
)
_REVERSE_CUES = frozenset("backwards backward reverse reversed reversing flip flipped mirror mirrored".split())
# Contact words written backwards ("txet em", "ppastahw"): none is an English word, so one of them says
# the whole message reads right to left.
_REVERSED_WORDS = frozenset(
    w[::-1] for w in """text call email mail number phone cell whatsapp telegram signal snapchat instagram insta
    discord venmo zelle paypal cashapp contact gmail outlook yahoo hotmail proton""".split()
)
# "rot13" / "caesar": letters shifted by thirteen.
_ROT13_WORDS = frozenset({"rot13", "caesar"})
_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm"
)
_REVERSED_HINT = re.compile(r"\b(?:moc|ten|gro)\.|liamg|oohay|liamtoh|kooltuo")
# Substrings every match of _REVERSED_HINT contains: looked for first (a substring search is a
# C loop over the text, while the pattern, which starts with an alternation, is tried at every position).
_REVERSED_PARTS = ("moc.", "ten.", "gro.", "liamg", "oohay", "liamtoh", "kooltuo")
# Leet is decoded only when a de-leeted token becomes a word that matters ("5n4pch4t", "h1t", "m3").
_LEET_TARGETS = frozenset(
    """snapchat snap whatsapp telegram signal insta instagram discord kik viber wechat text call email mail gmail
    yahoo hotmail outlook me up hit dm zelle venmo cashapp paypal ping hmu""".split()
)
_DIGIT_LOOKALIKES = frozenset("0123456789OoIlSsZzBb|")
_LEET_TO_LETTERS = str.maketrans("0134578@$2", "oieastbasz")
_LETTER_RUN = re.compile(r"[a-z]+")
_LETTERS_TO_DIGITS = str.maketrans("OoIlSsZzBb|", "00115522881")
_TOKEN = re.compile(r"[A-Za-z0-9_@$.]+")
_JUNCTION = re.compile(r"[A-Za-z][0-9]|[0-9][A-Za-z]")
# A digit next to a letter, class-first (the engine jumps from digit to digit): where _JUNCTION matches.
_JUNCTION_DIGIT = re.compile(r"[0-9](?:(?<=[A-Za-z][0-9])|(?=[A-Za-z]))")
_ASCII_TOKEN_CHARS = bytes(c if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "_@$.") else 32 for c in range(256))
# A reshaped identifier is short; decoders look at the first few thousand characters only, which
# keeps every decoder linear and cheap on hostile input (a megabyte of digits or letters).
MAX_DECODE_CHARS = 4000
# Starts with the digit class (the engine jumps from digit to digit) and checks the left boundary
# behind it; same matches as "(?<![A-Za-z0-9])(?:[0-9][^\s0-9]{1,2}){6,}[0-9](?![A-Za-z0-9])".
_INTERLEAVED = re.compile(r"[0-9](?<![A-Za-z0-9][0-9])(?:[^\s0-9]{1,2}[0-9]){6,}(?![A-Za-z0-9])")
# Each of the six or more gaps of an _INTERLEAVED match starts right after a digit with a sign that is
# neither a digit nor a space, so its ASCII text, digits read "0", spaces " " and every other byte "x",
# holds "0x" six times: one translation and one count rule out most number-carrying messages
# without entering the regex engine at every digit.
_DIGIT_GAPS = bytes(48 if 48 <= c <= 57 else 32 if c in b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f" else 120 for c in range(256))
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_AY_AT_END = re.compile(r"ay(?![a-z])")
_ENDS_IN_AY = WordFilter(lambda word: word.endswith("ay"))
_PIG_WORD = re.compile(r"(?<![A-Za-z])([a-z]+)-?([a-z]*)ay(?![a-z])", re.IGNORECASE)
_PIG_TARGETS = frozenset(
    "zero oh one two three four five six seven eight nine text call me my cell is email at dot number phone ring".split()
)

# Digits written with look-alike letters ("B0Z-SSS-OI4I"): a look-alike letter right next to a digit or dash.
_LOOKALIKE_RUN = re.compile(r"[OoIlSZB|](?<=[0-9-][OoIlSZB|])|[OoIlSZB|](?=[0-9-])")
_BASE64_WORDS = frozenset({"decode", "decoded", "base"})
_ANY_DECODER_WORD = _REVERSE_CUES | _REVERSED_WORDS | _ROT13_WORDS | _NATO_WORDS | _STRICT_HOMOPHONES | _LEET_TARGETS | _BASE64_WORDS
# Every word ``may_apply`` looks for ("area" with "code" asks for the area-code decoder).
DECODER_WORDS = _ANY_DECODER_WORD | {"area", "code"}


def may_apply(text: str, gate: MessageWords) -> bool:
    """One cheap test before any decoder: most plain chat has none of their signs."""
    if _mentions_area_code(gate) or _names_base64(gate) or "rot" in gate.words:
        return True
    if not gate.words.isdisjoint(_ANY_DECODER_WORD) or (not text.isascii() and _RESHAPED.search(text)):
        return True
    if gate.digits and (gate.digits >= 7 or _LOOKALIKE_RUN.search(text)):
        return True
    if "." in text and _reversed_hint(gate.lowered) or text.count("-") >= 5 or "ay " in gate.lowered:
        return True
    # Morse may be written with dots mostly ("... --- ..."): the same count ``candidates`` uses.
    return ("--" in text or ".-" in text or "-." in text or "..." in text) and text.count("-") + text.count(".") >= 8


Decoded = tuple[str, int, int, str]  # decoded text, start and end of the encoded stretch, decoder name


def candidates(text: str, gate: MessageWords) -> Iterator[Decoded]:
    """Yield decoded copies of the stretches of ``text`` some decoder can read."""
    text = text[:MAX_DECODE_CHARS]
    if not text.isascii() and _RESHAPED.search(text):
        yield from _reshaped(text)
    words = gate.words
    if not words.isdisjoint(_REVERSE_CUES) or not words.isdisjoint(_REVERSED_WORDS) or ("." in text and _reversed_hint(gate.lowered)):
        yield text[::-1], 0, len(text), "reversed"
    if not words.isdisjoint(_ROT13_WORDS) or "rot" in words and "13" in text:
        yield text.translate(_ROT13), 0, len(text), "rot13"
    if not words.isdisjoint(_NATO_WORDS):
        yield from _runs(text, _NATO_RUN, _nato, "nato")
    if text.count("-") + text.count(".") >= 8:
        # Of the signs _MORSE_DASHES rewrites, ASCII text can hold only "_".
        morse_text = text.translate(_MORSE_DASHES) if "_" in text or not text.isascii() else text
        yield from _runs(morse_text, _MORSE_RUN, _morse, "morse")
    if not words.isdisjoint(_STRICT_HOMOPHONES):
        yield from _runs(text, _HOMOPHONE_RUN, _homophones, "homophones")
    # Three different words ending in "ay" need three "ay" in the text, and three at a word's end:
    # counted first, in C ("today", "assay" and "pay" make long descriptions pass the first count).
    lowered = gate.lowered
    if lowered.count("ay") >= 3 and len(_AY_AT_END.findall(lowered)) >= 3 and len(_ENDS_IN_AY.among(words)) >= 3:
        yield _pig_latin(text), 0, len(text), "pig_latin"
    if gate.digits and (not words.isdisjoint(_LEET_TARGETS) or "S" in text or "O" in text or "I" in text):
        yield from _leet(text)
    # Letters between the digits need no leet word: "3a1b2c..." hides a number whatever surrounds it.
    if gate.digits >= 7 and _may_interleave(text):
        yield from _runs(text, _INTERLEAVED, lambda s: "".join(c for c in s if c.isdigit()), "interleaved")
    if ("=" in text or len(text) >= 16) and _names_base64(gate):
        yield from _base64(text)
    if _mentions_area_code(gate):
        yield from _area_codes(text)


def _may_interleave(text: str) -> bool:
    """False only when ``_INTERLEAVED`` certainly finds nothing in ``text`` (fewer than six digit-then-sign places)."""
    return not text.isascii() or text.encode("ascii").translate(_DIGIT_GAPS).decode("ascii").count("0x") >= 6


def _mentions_area_code(gate: MessageWords) -> bool:
    return "area" in gate.words and "code" in gate.words


# "area code same as <place>" / "the <place> area code": the place's code from the vocabulary file.
_AREA_CODE = re.compile(r"\barea\s+code\b", re.IGNORECASE)
_CODE_AFTER = re.compile(r"\barea\s+code'?s?\s*(?:is|:|=)?\s*(?P<code>\d{3})\b", re.IGNORECASE)


# "area code is 200 + 12", "(three times 101)", "323 doubled", "half of 1292": a sum told instead of the code.
_SMALL = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
          "eleven": 11, "twelve": 12}
_OPERAND = r"(\d{1,4}|" + "|".join(_SMALL) + r")"
_ARITHMETIC = re.compile(
    rf"(?<![\w.-]){_OPERAND}\s*(\+|plus|x|×|\*|times|minus)\s*{_OPERAND}(?![\w.-])"
    r"|(?<![\w.-])(\d{2,4})\s+doubled\b|\b(?:double|twice)\s+(\d{2,4})(?![\w.-])|\bhalf\s+(?:of\s+)?(\d{3,4})(?![\w.-])",
    re.IGNORECASE,
)


def _operand(word: str) -> int:
    return int(word) if word.isdigit() else _SMALL[word.lower()]


def _sum_told(match: re.Match[str]) -> int | None:
    """The value of an ``_ARITHMETIC`` match, when it is a whole number."""
    if match.group(2):
        a, op, b = _operand(match.group(1)), match.group(2).lower(), _operand(match.group(3))
        return a + b if op in ("+", "plus") else a - b if op == "minus" else a * b
    if match.group(4) or match.group(5):
        return 2 * int(match.group(4) or match.group(5))
    half = int(match.group(6))
    return half // 2 if half % 2 == 0 else None


def _area_code_sums(text: str, mention: re.Match[str]) -> Iterator[Decoded]:
    """An area code told as a sum right after "area code" becomes the code ("area code: 600 + 46" -> 646)."""
    told = _ARITHMETIC.search(text, mention.end(), min(len(text), mention.end() + 30))
    if told is None:
        return
    value = _sum_told(told)
    if value is not None and 200 <= value <= 999:
        yield text[: told.start()] + str(value) + text[told.end() :], told.start(), told.end(), "area_code"


def _area_codes(text: str) -> Iterator[Decoded]:
    """A place named for its area code becomes the code; a code told last ("..., area code 212") moves first;
    a code told as a sum is worked out."""
    from pipeline.detection.languages import VOCABULARY  # the decoders load before the vocabulary file is needed

    for mention in _AREA_CODE.finditer(text):
        for decoded in _area_code_sums(text, mention):
            yield decoded
            return

    places = VOCABULARY.area_code_pattern
    for mention in _AREA_CODE.finditer(text):
        window_start, window_end = max(0, mention.start() - 60), min(len(text), mention.end() + 60)
        place = places.search(text, window_start, window_end) if places is not None else None
        code = VOCABULARY.area_codes[" ".join(place.group().lower().split())] if place is not None else ""
        # "the area code for <place> is <code>" tells the code itself: nothing to decode.
        if place is not None and not re.search(rf"(?<!\d){code}(?!\d)", text[place.end() : place.end() + 12]):
            yield text[: place.start()] + code + text[place.end() :], place.start(), place.end(), "area_code"
            return
    told_last = _CODE_AFTER.search(text)
    if told_last is not None and any(c.isdigit() for c in text[: told_last.start()]):
        rest = text[: told_last.start()] + text[told_last.end() :]
        yield "area code " + told_last.group("code") + ", " + rest, 0, len(text), "area_code"


def _names_base64(gate: MessageWords) -> bool:
    """The message says it holds base64 ("decode", "base64", "b64"); the gate's words hold letters only."""
    return not gate.words.isdisjoint(_BASE64_WORDS) or "base64" in gate.lowered or "b64" in gate.lowered


def _reversed_hint(lowered: str) -> bool:
    """True when the lower-cased text holds the end of a domain or a provider written backwards ("moc.liamg")."""
    for part in _REVERSED_PARTS:
        if part in lowered:
            return _REVERSED_HINT.search(lowered) is not None
    return False


def _runs(text: str, pattern: re.Pattern[str], decode: Callable[[str], str], name: str) -> Iterator[Decoded]:
    for match in pattern.finditer(text):
        decoded = decode(match.group())
        if decoded:
            yield text[: match.start()] + " " + decoded + " " + text[match.end() :], match.start(), match.end(), name


def _reshaped(text: str) -> Iterator[Decoded]:
    """Tag characters, regional-indicator letters and upside-down text."""
    for run in _TAG_RUN.finditer(text):
        hidden = "".join(chr(ord(c) - 0xE0000) for c in run.group() if 0xE0020 <= ord(c) <= 0xE007E)
        if hidden.strip():
            yield hidden, run.start(), run.end(), "tag_characters"
    for run in _REGIONAL_RUN.finditer(text):
        letters = "".join(chr(ord(c) - 0x1F1E6 + 97) if 0x1F1E6 <= ord(c) <= 0x1F1FF else c for c in run.group())
        if len(letters.replace(" ", "")) >= 2:
            yield text[: run.start()] + letters + text[run.end() :], run.start(), run.end(), "regional_indicators"
    if sum(1 for c in text if c in _UPSIDE_ONLY) >= 3:
        flipped = "".join(_UPSIDE_DOWN.get(c, c) for c in reversed(text))
        yield flipped, 0, len(text), "upside_down"


def _nato(run: str) -> str:
    words = re.split(r"[\s,]+", run.lower())
    letters = "".join(NATO.get(w, "") for w in words)
    return letters if len(letters) >= 2 else ""


def _morse(run: str) -> str:
    out = []
    for word in re.split(r"\s*/\s*|\s{3,}", run):
        out.append("".join(MORSE.get(code, "") for code in word.split()))
    return " ".join(out)


def _homophones(run: str) -> str:
    words = re.split(r"[\s,.\-]+", run.lower())
    if not any(w in _STRICT_HOMOPHONES for w in words):
        return ""
    return " ".join(HOMOPHONES.get(w, w) for w in words)


def _pig_latin(text: str) -> str:
    return _PIG_WORD.sub(_unpig, text)


def _unpig(match: re.Match[str]) -> str:
    first, second = match.group(1), match.group(2)
    if second:  # "ext-tay": the moved consonants are written after the hyphen
        return (second if second != "w" else "") + first
    stem = first
    for moved in (1, 2, 3):
        if len(stem) > moved and stem[-moved:].isalpha():
            candidate = stem[-moved:] + stem[:-moved]
            if candidate.lower() in _PIG_TARGETS:
                return candidate
    if stem.endswith("w") and stem[:1] in "aeiou":
        return stem[:-1]
    if stem[:1] in "aeiou" and stem.lower() in _PIG_TARGETS:
        return stem  # a word starting with a vowel keeps its letters and only gains "ay" ("eightay")
    return match.group()


def _leet(text: str) -> Iterator[Decoded]:
    """Leet both ways: "5n4pch4t" read as letters, "B0Z-SSS-OI4I" read as digits."""
    mixed = _mixed_tokens(text)
    if not mixed:
        return
    # The letter runs of every token read as letters, in one pass over the tokens joined by spaces.
    if not _LEET_TARGETS.isdisjoint(_LETTER_RUN.findall(" ".join(mixed).lower().translate(_LEET_TO_LETTERS))):
        letters = _TOKEN.sub(lambda m: m.group().translate(_LEET_TO_LETTERS) if _JUNCTION.search(m.group()) else m.group(), text)
        yield letters, 0, len(text), "leet"
    lookalike = [t for t in mixed if _DIGIT_LOOKALIKES.issuperset(t)]
    if lookalike and sum(len(t) for t in lookalike) >= 5:
        digits = _TOKEN.sub(lambda m: m.group().translate(_LETTERS_TO_DIGITS) if _DIGIT_LOOKALIKES.issuperset(m.group()) else m.group(), text)
        if digits != text:
            yield digits, 0, len(text), "leet_digits"


def _mixed_tokens(text: str) -> list[str]:
    """The tokens holding a letter next to a digit: ``[t for t in _TOKEN.findall(text) if _JUNCTION.search(t)]``.

    An ASCII text (nearly all) has each such token cut out around its junction from a copy where
    every other character is a space, without a Python-level test of every token.
    """
    if not text.isascii():
        return [t for t in _TOKEN.findall(text) if _JUNCTION.search(t)]
    return tokens_around(text, _JUNCTION_DIGIT, _ASCII_TOKEN_CHARS)


def _base64(text: str) -> Iterator[Decoded]:
    for match in _BASE64.finditer(text):
        token = match.group()
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
            decoded = raw.decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable():
            yield decoded, match.start(), match.end(), "base64"
