"""Phone numbers in any disguise, validated with phonenumbers and guarded against trade numbers.

Digits are read as tokens (digit runs, spelled digits, O/l/I swapped in) chained across any
separators; a chain is only reported when phonenumbers accepts it and nothing around it says it
is a tracking, cert, serial or order number.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

from pipeline.detection import languages
from pipeline.detection.checksums import dhl_valid, tracking_valid
from pipeline.detection.gates import MessageWords, WordFilter, message_words
from pipeline.detection.hits import Hit, bounded

_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
_LETTER_DIGITS = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1", "S": "5", "B": "8", "Z": "2"})

# A token is a digit run that may have O/o/I/l swapped in (and S/B/Z, but only between two real
# digits: "77S1", "4B17", never a mint mark's "1909-S"), a lone O/I/l ("weak": only counted
# between real digits) or a spelled digit. Each pattern starts with a character class so the regex
# engine can skip ahead quickly; the word boundary on the left is checked by a look-behind placed
# after the first character. Repetition is bounded so that a run of 100,000 digits costs a fixed
# number of steps instead of backtracking.
_NUM_TOKEN = re.compile(
    r"[0-9OoIl](?<![A-Za-z0-9][0-9OoIl])(?:(?<=[OoIl])[OoIl]{0,2}[0-9](?:[0-9OoIl]|(?<=[0-9])[SBZ](?=[0-9])){0,60}|"
    r"(?<=[0-9])(?:[0-9OoIl]|(?<=[0-9])[SBZ](?=[0-9])){0,60}|)"
    r"(?![A-Za-z0-9])"
)
_WORD_TOKEN = re.compile(
    r"[zZoOtTfFsSeEnN](?<![A-Za-z0-9][zZoOtTfFsSeEnN])"
    r"(?:(?<=[zZ])ero|(?<=[oO])(?:h|ne)|(?<=[tT])(?:wo|hree)|(?<=[fF])(?:our|ive)|(?<=[sS])(?:ix|even)|"
    r"(?<=[eE])ight|(?<=[nN])ine)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_GAP = re.compile(
    r"(?:[\s\-.()\[\]{}/,_*|~:'\"\u2022\u00b7\u2010-\u2015\u2212\u2043\u30fb]|(?i:dash|hyphen|dot|point|space|then|luego|despues|depois|dann|puis|poi))*"
)
_MAX_GAP = 9

# English cues plus the commonest ones of the languages members write in (accents are folded by
# normalise): German "ruf mich an", "Handy"; Spanish "llamame", "celular"; Portuguese "me liga",
# "zap" (WhatsApp); French "appelle-moi", "portable".
_STRONG_CUE_WORDS = frozenset(
    """call calls calling text texts texting txt sms ring phone cell cellphone mobile mob tel telephone landline
    dial whatsapp signal telegram viber imessage facetime hmu digits
    ruf anrufen anruf handy telefon telefono telefone llamame llama llamar marcame celular movil
    liga ligue ligar chama zap appelle appelez appeler portable""".split()
)
_WEAK_CUE_WORDS = frozenset(
    "number num contact line zelle venmo cashapp cash reach ask starts start last numero nummer ph cel "
    "ecrivez ecris escribeme escribe schreib schreiben".split()
)
_CUE_PHRASES = ("area code", "reach me", "hit me up", "personal line", "my #")
_CUE_SYMBOLS = ("\U0001f4de", "\U0001f4f1", "\u260e")
_STRONG_CUE = re.compile(
    r"\b(?:call|calls|calling|text|texts|texting|txt|sms|ring|phone|cell|cellphone|mobile|mob|tel|"
    r"telephone|landline|dial|reach me|whatsapp|signal|telegram|viber|imessage|facetime|hmu|"
    r"hit me up|area code|digits|personal line|ruf|anrufen|handy|telefon|telefono|telefone|llamame|"
    r"llama|celular|movil|liga|ligue|chama|zap|appelle|appelez|portable)\b|[\U0001f4de\U0001f4f1\u260e]",
    re.IGNORECASE,
)
_GUARD = re.compile(
    r"\b(?:tracking|track|trk|waybill|awb|label|usps|ups|fedex|fed ex|dhl|ontrac|cert|certs|"
    r"certificate|serial|serials|s/n|sn|sku|upc|ean|isbn|order|orders|invoice|receipt|ticket|case|"
    r"ref|reference|confirmation|lot|listing|listings|item|id|pcgs|ngc|anacs|cac|icg|pmg|catalog|"
    r"mintage|pop|account|acct|routing|iban|po|barcode|model|part|vin|zip|offer|transaction|txn|"
    r"batch|invoice|parcel|shipment|package|box|slot)\b",
    re.IGNORECASE,
)
_CALL_THE_GUARD = re.compile(
    r"\b(?:call|dial|ring|text|phone|txt)\s+(?:this|that|the|my|these|those|a)?\s*(?:\w+\s+)?"
    r"(?:serial|serials|number|order|ref|reference|item|ticket|case|id|code)\b", re.IGNORECASE)
_HASH_CUE = re.compile(r"#(?!\s?\d)")
_PHONE_LIKE_10 = {(10,), (3, 3, 4), (3, 7), (6, 4), (3, 3, 2, 2), (2, 2, 2, 2, 2)}
_PHONE_LIKE_11 = {(11,), (1, 3, 3, 4), (1, 10), (4, 3, 4), (1, 3, 7), (1, 6, 4)}
_FOREIGN_REGIONS = ("GB", "AU", "IE", "NZ", "DE", "FR", "IN", "ZA", "NL", "IT", "ES", "MX", "BR", "PH", "AT", "CH", "NG")
# Countries whose numbers are written without a trunk 0 and that the US plan does not already
# claim: India's 10-digit mobiles, Brazil's and China's 11 digits. Tried only after a contact cue.
_NO_TRUNK_REGIONS = ("IN", "BR", "CN", "MX")


_new_tuple = tuple.__new__


class DigitToken(NamedTuple):
    """One token of a digit chain: where it is and which digits it stands for.

    A named tuple rather than a frozen dataclass: a message with numbers makes several, and the
    frozen dataclass constructor (one ``object.__setattr__`` per field) cost more than finding them.
    """

    start: int
    end: int
    digits: str
    weak: bool


_DIGIT_WORD_SET = frozenset(_DIGIT_WORDS)
_TOLL_FREE = re.compile(r"\+18(?:00|33|44|55|66|77|88)")
_ORGANISATION = re.compile(
    r"\b(?:usps|ups|fedex|dhl|post\s+office|mint|pcgs|ngc|anacs|cac|peer\s?metals|support|customer\s+service|"
    r"paypal|bank|insurance|carrier|help\s?line|hotline)\b",
    re.IGNORECASE,
)
# A letter standing in for a digit next to a real one. Two class-first patterns (the engine jumps
# to candidates) answering together as "[0-9][OoIl|]|[OoIl|][0-9]|[0-9][\s.\-]+[OoIl|]\b|
# \b[OoIl|][\s.\-]+[0-9]|[0-9][SBZ][0-9]" did (tests/detection/test_fast_paths.py).
_SWAP_AT_DIGIT = re.compile(r"[0-9](?:(?=[OoIl|])|(?<=[OoIl|][0-9])|(?=[\s.\-]+[OoIl|]\b)|(?=[SBZ][0-9]))")
_SWAP_BEFORE_DIGIT = re.compile(r"[OoIl|](?<=\b[OoIl|])(?=[\s.\-]+[0-9])")


def _swap_near_digit(text: str) -> bool:
    """True when a letter that stands in for a digit sits next to a digit."""
    return _SWAP_AT_DIGIT.search(text) is not None or _SWAP_BEFORE_DIGIT.search(text) is not None
_SPELLED = r"(?i:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
# Spelled digits glued to digits or to each other ("4one5", "fiveone"); bounded like the tokens.
_GLUED_PIECE = re.compile(_SPELLED + r"|[0-9]")
_GLUED_RUN = re.compile(r"(?<![A-Za-z0-9])(?:" + _SPELLED + r"|[0-9]){2,40}(?![A-Za-z0-9])")
_ALL_SPELLED = re.compile(rf"{_SPELLED}{{2,}}")
_SPELLED_STARTS = frozenset(word[:2] for word in _DIGIT_WORDS if len(word) > 1)
_UNITS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
          "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 2, "thirty": 3, "forty": 4, "fifty": 5, "sixty": 6, "seventy": 7, "eighty": 8, "ninety": 9}
_SPOKEN_WORDS = frozenset(["hundred", *_TEENS, *_TENS])
_UNIT_RE, _TEEN_RE, _TENS_RE = ("|".join(words) for words in (_UNITS, _TEENS, _TENS))
_SPOKEN = re.compile(
    rf"\b(?:({_UNIT_RE})\s+hundred(?:\s+(?:and\s+)?((?:{_TEEN_RE})|(?:{_TENS_RE})(?:[\s-](?:{_UNIT_RE}))?|(?:{_UNIT_RE})))?"
    rf"|({_TEEN_RE})|({_TENS_RE})(?:[\s-]({_UNIT_RE}))?)\b",
    re.IGNORECASE,
)
_REPEAT_WORDS = frozenset({"double", "triple"})
_REPEAT_BEFORE = re.compile(r"\b((?i:double|triple))\s+$")
TRIGGER_WORDS = _DIGIT_WORD_SET


def find_phones(text: str, gate: MessageWords | None = None) -> list[Hit]:
    """Return phone hits in normalised ``text``."""
    gate = gate or message_words(text)
    # Ten digit-like tokens are needed; with at most a few O/l/I swaps that means seven real digits.
    spelled = _has_spelled_digits(gate)
    foreign = languages.might_have_numbers(text, gate)
    spelled = spelled or foreign
    if gate.digits < 7 and not spelled:
        return []
    # Between seven and nine real digits, letters standing in for digits must supply the rest, or
    # a calling word says a local number (no area code) follows.
    if gate.digits < 10 and not spelled and not _swap_near_digit(text) and not (
            gate.any_word(_STRONG_CUE_WORDS) or gate.any_word(_LOCAL_CUES)):
        return []
    tokens = _tokens(text, gate, spelled)
    lang = None
    if foreign:
        tokens, lang = _with_foreign_numbers(text, tokens)
    # Spain, Poland and others use nine-digit national numbers; said in their language, they count.
    total = sum(len(t.digits) for t in tokens)
    strong = (gate.any_word(_STRONG_CUE_WORDS) or any(s in text for s in _CUE_SYMBOLS)
              or any(p in gate.lowered for p in _CUE_PHRASES))
    if total < (9 if lang else 10):
        return _local_numbers(text, _chains(text, tokens), strong) if total >= 7 and (strong or gate.any_word(_LOCAL_CUES)) else []
    chains = _chains(text, tokens)
    cue_lang = None if strong else languages.has_phone_cue(text, gate)
    # A cue of another language next to an English one ("Ring mig på 070-482 19 73": "ring" and
    # Swedish "ring mig") still says where a national number with a trunk 0 is from.
    national = languages.has_phone_cue(text, gate) if strong and not lang and "0" in text else None
    strong = strong or cue_lang is not None
    lang = lang or cue_lang
    # "my #" is a cue; "Order #130883" and "lot #12" are the trade's own numbers.
    weak = strong or gate.any_word(_WEAK_CUE_WORDS) or ("#" in text and _HASH_CUE.search(text) is not None)
    hits: list[Hit] = []
    for chain in chains:
        hit = _judge_chain(text, chain, strong, weak)
        if hit is not None:
            hits.append(hit)
    if weak:
        hits.extend(_split_numbers(text, chains, hits))
    if lang:
        # ``lang`` lists the candidate languages, most likely first; the finding names the first.
        regions = tuple(r for one in lang.split(",") for r in languages.VOCABULARY.regions.get(one, ()))
        hits = _in_regions(text, chains, hits, regions)
        hits = [Hit(h.kind, h.spans, h.value, h.score, lang.split(",")[0]) for h in hits]
    elif national:
        trunk = [chain for chain in chains if chain[0].digits.startswith("0")]
        if trunk:
            read = _in_regions(text, trunk, hits, languages.VOCABULARY.regions.get(national, ()))
            hits = [h if h in hits else Hit(h.kind, h.spans, h.value, h.score, national) for h in read]
    return hits


def _in_regions(text: str, chains: list[list[DigitToken]], hits: list[Hit], regions: tuple[str, ...]) -> list[Hit]:
    """Read national numbers in the countries of the language they were said in ("zéro six..." is French)."""
    if not regions:
        return hits
    import phonenumbers

    out = list(hits)
    for chain in chains:
        digits = "".join(t.digits for t in chain)
        if not 8 <= len(digits) <= 12 or _guarded(text, chain[0].start) or tracking_valid(digits):
            continue
        for region in regions:
            e164 = _e164(phonenumbers, digits, region)
            if e164:
                span = (_span_start(text, chain[0]), chain[-1].end)
                out = [h for h in out if not (h.start < span[1] and span[0] < h.end)]
                out.append(Hit("phone", (span,), e164, 0.93))
                break
    return out


def _with_foreign_numbers(text: str, tokens: list[DigitToken]) -> tuple[list[DigitToken], str | None]:
    """Add numbers spelled out in other languages ("zéro six", "null eins fünf") as digit tokens."""
    groups = languages.number_groups(text)
    if not groups:
        return tokens, None
    # A longer foreign number swallows the English digit word inside it ("cinquante-six"); where
    # both read the same words, English wins ("six hundred and forty six" is not French "six").
    tokens = [t for t in tokens if not any(s <= t.start and t.end <= e and e - s > t.end - t.start for s, e, _, _ in groups)]
    groups = [g for g in groups if not any(t.start < g[1] and g[0] < t.end for t in tokens)]
    if not groups:
        return tokens, None
    kept = list(tokens)
    kept.extend(DigitToken(s, e, digits, False) for s, e, digits, _ in groups)
    kept.sort(key=lambda t: t.start)
    langs = languages.languages_of(text, [(s, e) for s, e, _, _ in groups])
    return kept, ",".join(langs[:4]) or None


def _glued(word: str) -> bool:
    """True when ``word`` is made only of spelled digits glued together ("fiveonezero")."""
    return len(word) >= 5 and word[:2] in _SPELLED_STARTS and _ALL_SPELLED.fullmatch(word) is not None


# Remembered per word: the Python-level test of every word cost 57 k instructions on a long description.
_GLUED_WORDS = WordFilter(_glued)


def _has_spelled_digits(gate: MessageWords) -> bool:
    """True when a word is a spelled digit, or is made only of spelled digits glued together.

    Words come from splitting at digits, so "four1five" already yields "four" and "five"; only
    runs glued without digits ("fiveonezero") need the longer check.
    """
    return gate.any_word(_DIGIT_WORD_SET) or bool(_GLUED_WORDS.among(gate.words))


def _tokens(text: str, gate: MessageWords, spelled: bool) -> list[DigitToken]:
    """Tokenise every digit-like token of ``text``, in order."""
    # Built with ``tuple.__new__``, which the named tuple's own ``__new__`` calls: the same
    # DigitToken, without a Python-level call per token (a window of chat holds many: every
    # digit run, and every standalone "I" or "o").
    tokens = [
        _new_tuple(DigitToken, (match.start(), match.end(), token.translate(_LETTER_DIGITS),
                                len(token) == 1 and not token.isdigit()))
        for match in _NUM_TOKEN.finditer(text) for token in (match.group(),)
    ]
    if spelled:
        spoken = _spoken_numbers(text) if gate.any_word(_SPOKEN_WORDS) else []
        for match in _WORD_TOKEN.finditer(text):
            if not any(t.start <= match.start() < t.end for t in spoken):
                tokens.append(DigitToken(match.start(), match.end(), _DIGIT_WORDS[match.group().lower()], False))
        tokens.extend(spoken)
        tokens = _with_glued_runs(text, tokens)
        tokens.sort(key=lambda t: t.start)
        tokens = _drop_counts(text, tokens)
    if gate.any_word(_REPEAT_WORDS):
        tokens = _apply_repeats(text, tokens)
    return tokens


def _spoken_numbers(text: str) -> list[DigitToken]:
    """Numbers said the way people read a phone number aloud: "four fifteen", "<n> hundred and <m>".

    Each becomes one token of two or three digits ("fifteen" -> 15, "eight hundred and five" ->
    805, "twenty-one" -> 21); ten digits in one chain are still needed before anything is reported,
    so a price in words ("twelve fifty") stays a price.
    """
    tokens = []
    for match in bounded(_SPOKEN.finditer(text)):
        hundreds, rest, teen, tens, unit = (g.lower() if g else None for g in match.groups())
        if hundreds:
            digits = _UNITS[hundreds] + (_two_digits(rest) if rest else "00")
        elif teen:
            digits = str(_TEENS[teen])
        else:
            digits = str(_TENS[tens]) + (_UNITS[unit] if unit else "0")  # type: ignore[index]
        tokens.append(DigitToken(match.start(), match.end(), digits, False))
    return tokens


def _two_digits(words: str) -> str:
    """The last two digits of a spoken hundred: "twelve" -> 12, "five" -> 05, "thirty one" -> 31."""
    parts = re.split(r"[\s-]+", words.strip())
    if parts[0] in _TEENS:
        return str(_TEENS[parts[0]])
    if parts[0] in _TENS:
        return str(_TENS[parts[0]]) + (_UNITS[parts[1]] if len(parts) > 1 else "0")
    return "0" + _UNITS[parts[0]]


def _with_glued_runs(text: str, tokens: list[DigitToken]) -> list[DigitToken]:
    """Split runs like "four1five" or "fiveone" (words glued to digits or words) into digit tokens."""
    runs = [m for m in _GLUED_RUN.finditer(text) if not m.group().isdigit() and _GLUED_PIECE.fullmatch(m.group()) is None]
    if not runs:
        return tokens
    inside = [(m.start(), m.end()) for m in runs]
    kept = [t for t in tokens if not any(a <= t.start < b for a, b in inside)]
    for run in runs:
        for piece in _GLUED_PIECE.finditer(run.group()):
            digit = piece.group().lower()
            kept.append(DigitToken(run.start() + piece.start(), run.start() + piece.end(), _DIGIT_WORDS.get(digit, digit), False))
    return kept


def _apply_repeats(text: str, tokens: list[DigitToken]) -> list[DigitToken]:
    """Expand "double five" / "triple 7" into the repeated digits, spanning the repeat word."""
    expanded = []
    for token in tokens:
        # Only a single digit repeats: the length is tested before the pattern is searched for.
        repeat = _REPEAT_BEFORE.search(text, max(0, token.start - 8), token.start) if len(token.digits) == 1 else None
        if repeat:
            times = 2 if repeat.group(1).lower() == "double" else 3
            token = DigitToken(repeat.start(), token.end, token.digits * times, False)
        expanded.append(token)
    return expanded


def _drop_counts(text: str, tokens: list[DigitToken]) -> list[DigitToken]:
    """Drop number words that count the digits after them ("the last four 9182")."""
    kept = []
    for token, following in zip(tokens, [*tokens[1:], None], strict=False):
        is_word = text[token.start].isalpha() and len(token.digits) == 1 and token.end - token.start > 1
        counts_next = (
            following is not None and is_word and token.digits in "347"
            and text[following.start].isdigit() and len(following.digits) == int(token.digits)
        )
        if not counts_next:
            kept.append(token)
    return kept


def _chains(text: str, tokens: list[DigitToken]) -> list[list[DigitToken]]:
    """Group consecutive tokens separated only by separator characters or words."""
    chains: list[list[DigitToken]] = []
    current: list[DigitToken] = []
    for token in tokens:
        if current and _joins(text, current[-1], token):
            current.append(token)
            continue
        _close(current, chains)
        current = [token]
    _close(current, chains)
    return chains


def _joins(text: str, left: DigitToken, right: DigitToken) -> bool:
    """True when the gap between two tokens is a separator, not an amount, time or word."""
    gap = text[left.end : right.start]
    if len(gap) > _MAX_GAP or not _GAP.fullmatch(gap):
        return False
    if gap == "," and len(right.digits) == 3 and not left.weak:
        return False  # thousands separator: 1,350
    if gap == "." and len(right.digits) == 2 and not text.startswith(".", right.end):
        return False  # decimal amount: 27.80
    return gap != ":"  # clock time: 10:40


def _close(chain: list[DigitToken], chains: list[list[DigitToken]]) -> None:
    """Trim weak tokens off the ends of a chain and keep it if anything is left."""
    while chain and chain[0].weak:
        chain = chain[1:]
    while chain and chain[-1].weak:
        chain = chain[:-1]
    if chain:
        chains.append(chain)


def _judge_chain(text: str, chain: list[DigitToken], strong: bool, weak: bool) -> Hit | None:
    """Decide whether one chain is a phone number worth reporting."""
    digits = "".join(t.digits for t in chain)
    if len(digits) < 10:
        return None
    plus = _has_plus(text, chain[0].start)
    if len(digits) > (15 if plus else 12 if digits[0] == "0" else 11):
        return _sub_window(text, chain) if strong and not tracking_valid(digits) else None
    # Cheap structural checks first: phonenumbers is the slowest step of the whole scan.
    if _guarded(text, chain[0].start):
        return None
    if not plus and not strong and _looks_like_tracking(chain, digits):
        return None
    if not plus and not weak and not _phone_like(chain, digits):
        return None
    e164 = validate(digits, plus, allow_foreign=weak, anywhere=strong)
    if e164 is None or (_TOLL_FREE.match(e164) and _ORGANISATION.search(text)):
        return None  # A carrier's or mint's toll-free line is not the member's own channel.
    score = 0.97 if (plus or strong) else (0.93 if weak else 0.88)
    return Hit("phone", ((_span_start(text, chain[0]), chain[-1].end),), e164, score)


# A local number without its area code ("call 555-0163", "my cell is eight six seven, five three oh
# nine") is a phone when a calling word is in the message and the digits are grouped as people say
# them: three then four, or seven in one run or one by one.
_LOCAL_CUES = frozenset({"number", "digits", "cell", "line"})
_LOCAL_GROUPS = {(7,), (3, 4), (3, 2, 2)}
_THOUSANDS = re.compile(r"\d,\d")
_PRICE_OR_COUNT_BEFORE = re.compile(r"(?:[$€£#]|\bno\.?|\bx)\s*$", re.IGNORECASE)


def _local_numbers(text: str, chains: list[list[DigitToken]], strong: bool) -> list[Hit]:
    """Seven digits grouped like a local number, after a calling word; a round count or price is not one."""
    for chain in chains:
        digits = "".join(t.digits for t in chain)
        groups = _merged_groups(chain)
        if len(digits) != 7 or digits[0] in "01" or digits.endswith("000"):
            continue
        if not (groups in _LOCAL_GROUPS or all(len(t.digits) == 1 for t in chain)) or (groups == (7,) and not strong):
            continue
        start, end = _span_start(text, chain[0]), chain[-1].end
        if (_guarded(text, start) or _DATE_OR_DECIMAL.search(text, start, end) or _THOUSANDS.search(text, start, end)
                or _PRICE_OR_COUNT_BEFORE.search(text[max(0, start - 4) : start])):
            continue
        return [Hit("phone", ((start, end),), f"local:{digits[:3]}-{digits[3:]}", 0.8)]
    return []


def _span_start(text: str, first: DigitToken) -> int:
    """Start the span at an opening bracket around the first group ("(646) 298-3371") or a "+" right before it."""
    start = first.start
    if start and text[start - 1] == "(" and text.startswith(")", first.end):
        return start - 1
    if start and text[start - 1] == "+":
        return start - 1
    return start


def _has_plus(text: str, start: int) -> bool:
    """True when a '+' (international prefix) sits just before the chain."""
    return "+" in text[max(0, start - 3) : start]


def _looks_like_tracking(chain: list[DigitToken], digits: str) -> bool:
    """A single unbroken ten-digit run with a DHL check digit reads as a waybill."""
    return tracking_valid(digits) or (len(chain) == 1 and dhl_valid(digits))


def _phone_like(chain: list[DigitToken], digits: str) -> bool:
    """True when the digit grouping is one people use for phone numbers."""
    groups = _merged_groups(chain)
    if all(g == 1 for g in groups):
        return True
    return groups in (_PHONE_LIKE_10 if len(digits) == 10 else _PHONE_LIKE_11)


def _merged_groups(chain: list[DigitToken]) -> tuple[int, ...]:
    """Digit-group sizes, with runs of single digits ("nine one eight two") counted as one group."""
    groups: list[int] = []
    single_run = 0
    for token in chain:
        if len(token.digits) == 1:
            single_run += 1
            continue
        if single_run:
            groups.append(single_run)
            single_run = 0
        groups.append(len(token.digits))
    if single_run:
        groups.append(single_run)
    return tuple(groups)


_LETTER_RUN = re.compile(r"[a-z]+")


def _guarded(text: str, start: int) -> bool:
    """True when a trade-number keyword (tracking, cert, order...) closely precedes ``start``."""
    before = text[max(0, start - 32) : start]
    guards = [m.end() for m in _GUARD.finditer(before)]
    if not guards:
        # The trade words of other languages (``trade_words`` in the data file: "przesyłki", "takip", "单号").
        trade, runs = languages.VOCABULARY.trade_words, languages.VOCABULARY.trade_word_runs
        if trade is not None and (runs is None or not before.isascii() or not runs.isdisjoint(_LETTER_RUN.findall(before.lower()))):
            guards += [m.end() for m in trade.finditer(before)]
    if not guards:
        return False
    cues = [m.end() for m in _STRONG_CUE.finditer(before)]
    if _CALL_THE_GUARD.search(before):
        return False  # a call verb before the trade word ("ring the <trade word>") governs it
    return not cues or max(cues) < max(guards)


def _sub_window(text: str, chain: list[DigitToken]) -> Hit | None:
    """Find a phone number inside a longer chain of tokens (two numbers run together)."""
    for i in range(len(chain)):
        digits = ""
        for j in range(i, len(chain)):
            digits += chain[j].digits
            if len(digits) > 11:
                break
            e164 = validate(digits, False, allow_foreign=False) if len(digits) >= 10 else None
            if e164 and not _guarded(text, chain[i].start):
                return Hit("phone", ((_span_start(text, chain[i]), chain[j].end),), e164, 0.85)
    return None


# A date ("2/10/2024") or a decimal ("31.103") is never a piece of a number told in parts.
_DATE_OR_DECIMAL = re.compile(r"\d{1,4}/\d{1,2}/\d{2,4}|\d\.\d")


def _split_numbers(text: str, chains: list[list[DigitToken]], found: list[Hit]) -> list[Hit]:
    """Assemble a number told in pieces ("starts with 651 ... the last seven are 338 4120")."""
    taken = {span for hit in found for span in hit.spans}
    pieces = [c for c in chains if 2 <= len("".join(t.digits for t in c)) <= 7
              and (c[0].start, c[-1].end) not in taken and not _DATE_OR_DECIMAL.search(text, c[0].start, c[-1].end)]
    for size in (2, 3, 4):
        for i in range(len(pieces) - size + 1):
            group = pieces[i : i + size]
            hit = _assemble(text, group)
            if hit is not None:
                return [hit]
    return []


def _assemble(text: str, group: list[list[DigitToken]]) -> Hit | None:
    """Validate consecutive digit pieces joined together as one US number."""
    for left, right in pairwise(group):
        gap = text[left[-1].end : right[0].start]
        if len(gap) > 40 or re.search(r"[.!?;\n$%]", gap):
            return None
    digits = "".join(t.digits for chain in group for t in chain)
    if len(digits) not in (10, 11) or any(_guarded(text, c[0].start) for c in group):
        return None
    e164 = validate(digits, False, allow_foreign=False)
    if e164 is None:
        return None
    return Hit("phone", tuple((c[0].start, c[-1].end) for c in group), e164, 0.8)


@lru_cache(maxsize=4096)
def validate(digits: str, plus: bool, *, allow_foreign: bool, anywhere: bool = False) -> str | None:
    """Return the E.164 form if ``digits`` is a valid number (US default), else None.

    ``allow_foreign`` also tries national numbers with a trunk 0 in the usual foreign regions;
    ``anywhere`` (a contact cue such as "call" is present) also tries countries that write their
    numbers without one.
    """
    import phonenumbers  # Imported on first use: most messages never reach validation.

    if plus:
        # Written with a "+" next to a contact cue, a number of a plausible length for its country
        # is a phone even where the plan reserves it (the UK's 07700 900xxx drama range).
        return _e164(phonenumbers, "+" + digits, None, possible=allow_foreign)
    if digits.startswith("00") and len(digits) >= 11:
        return _e164(phonenumbers, "+" + digits[2:], None)
    if len(digits) == 10 or (len(digits) == 11 and digits.startswith("1")):
        if digits[0] != "0":
            e164 = _e164(phonenumbers, digits, "US")
            if e164 or not anywhere:
                return e164
    if anywhere and digits[0] != "0" and len(digits) in (10, 11):
        for region in _NO_TRUNK_REGIONS:
            e164 = _e164(phonenumbers, digits, region)
            if e164:
                return e164
    if allow_foreign and digits.startswith("0") and len(digits) in (10, 11, 12):
        for region in _FOREIGN_REGIONS:
            e164 = _e164(phonenumbers, digits, region)
            if e164:
                return e164
    return None


def _e164(phonenumbers, number: str, region: str | None, possible: bool = False) -> str | None:  # type: ignore[no-untyped-def]
    """Parse and validate one number (or, with ``possible``, check only its length), returning E.164 or None."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed) and not (possible and phonenumbers.is_possible_number(parsed)):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
