"""Other languages: number words, words for "at" and "dot", app and rail names, leaving the platform.

The vocabularies live in ``data/languages.json`` so that trust-and-safety staff can extend them
without touching code; this module turns them, once at import, into a few patterns. Every
finding from a non-English rule carries ``lang`` so a reviewer knows which vocabulary fired.
The file is read once with ``pkgutil.get_data`` (``context.languages_data``, which the negators
of other languages come from too; package data, lighter to import than ``importlib.resources``;
never read again at scan time); ``load`` takes its text so tests can build a vocabulary of their own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from pipeline.detection.context import asks_what_checkout_takes, is_refused, languages_data, negates
from pipeline.detection.gates import MessageWords
from pipeline.detection.hits import Hit, bounded
from pipeline.detection.normalise import NormalisedText, _rewrite, normalise

# Rails that are ordinary banking words ("transferencia", "virement"): reported only when the
# same message also proposes leaving the platform or dodging its fee.
_WEAK_RAILS = frozenset({"bank_transfer", "card_transfer"})
_WEAK_APPS = frozenset({"marketplace"})
# Short Latin app names ("vx", "qq") are also serial letters; they need "on/add/no/na..." before
# them or a ":" after them.
_PLACED_BEFORE = re.compile(r"(?:\b(?:on|in|add|no|na|um|auf|sur|su|en|pe|op|pa|via|my|mi|mon|meu|mein|мой|в)\s+|加|加我|找我|加个)$", re.IGNORECASE)
# Portuguese "no"/"na" after a verb is "on the" ("me chama no zap"), not the English negator.
_PT_ON_THE = re.compile(r"(?<=[^\W\d_])\s+n[oa]\s+$", re.IGNORECASE)
_UPI = re.compile(r"(?<![\w.@-])[A-Za-z0-9][\w.-]{1,40}@(?:ok(?:axis|icici|sbi|hdfcbank)|ybl|paytm|upi|ibl|axl|apl|ptyes|ptsbi)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Phrase:
    """What one vocabulary entry means: the kind of hit, its value and the language."""

    role: str  # app, rail, off_platform, fee, avoider
    value: str
    lang: str


class Vocabulary:
    """Compiled patterns for every language in one data file."""

    def __init__(self, data: dict) -> None:  # type: ignore[type-arg]
        self.numbers: dict[str, tuple[int, str]] = {}
        self.number_langs: dict[str, list[str]] = {}
        self.joiners: set[str] = set()
        at_words: set[str] = set()
        dot_words: set[str] = set()
        self.phone_cues: dict[str, str] = {}
        self.phrases: dict[str, Phrase] = {}
        self.regions: dict[str, tuple[str, ...]] = {}
        # Reassembling pieces sent over several messages (``assembly.py``): cue phrases and fillers.
        self.assembly_cues: set[str] = set()
        self.fillers: set[str] = set()
        app_nouns: set[str] = set()
        self.area_codes: dict[str, str] = {}
        platform_words: set[str] = set()
        deal_words: set[str] = set()
        # Every spelling of a direct word, whatever role its phrase got: "напрямую" is an
        # off_platform phrase of its own, yet like any direct word it stays when the clause goes
        # through the platform ("оплачу напрямую через сайт").
        direct_forms: set[str] = set()
        meet_words: set[str] = set()
        self.platform_first: set[str] = set()
        self.compound_fees: dict[str, str] = {}
        exclusions: set[str] = set()
        trade_words: set[str] = set()
        for lang, entry in data["languages"].items():
            trade_words.update(form for w in entry.get("trade_words", ()) for form in _forms(w))
            self.area_codes.update({" ".join(_fold(place).split()): str(code) for place, code in entry.get("area_codes", {}).items()})
            app_nouns.update(form for w in entry.get("app_nouns", ()) for form in _forms(w))
            self.regions[lang] = tuple(entry.get("phone_regions", ()))
            self.assembly_cues.update(form for w in entry.get("assembly_cues", ()) for form in _forms(w))
            self.fillers.update(form for w in entry.get("fillers", ()) for form in _forms(w))
            for word, value in entry.get("numbers", {}).items():
                for form in _forms(word):
                    self.numbers.setdefault(form, (int(value), lang))
                    self.number_langs.setdefault(form, []).append(lang)
            self.joiners.update(form for w in entry.get("joiners", ()) for form in _forms(w))
            at_words.update(form for w in entry.get("at", ()) for form in _forms(w))
            dot_words.update(form for w in entry.get("dot", ()) for form in _forms(w))
            for cue in entry.get("phone_cues", ()):
                for form in _forms(cue):
                    self.phone_cues.setdefault(form, lang)
            roles = [("app", app, word) for app, words in entry.get("apps", {}).items() for word in words]
            roles += [("rail", rail, word) for rail, words in entry.get("rails", {}).items() for word in words]
            roles += [("riddle", app, word) for app, words in entry.get("app_riddles", {}).items() for word in words]
            roles += [("off_platform", "off_platform", w) for w in entry.get("off_platform", ())]
            roles += [("fee", "fee", w) for w in entry.get("fee_words", ())]
            roles += [("avoider", "avoider", w) for w in entry.get("fee_avoiders", ())]
            roles += [("leave", "leave", w) for w in entry.get("leave_words", ())]
            roles += [("direct", "direct", w) for w in entry.get("direct_words", ())]
            roles += [("cash", "cash", w) for w in entry.get("cash_words", ())]
            meet_words.update(form for w in entry.get("meet_words", ()) for form in _forms(w))
            # Their partners are common words ("app", "aquí", "pagar"): looked for only after a
            # leave or direct word was found, so they are no gate keys.
            platform_words.update(form for w in entry.get("platform_words", ()) for form in _forms(w))
            deal_words.update(form for w in entry.get("deal_words", ()) for form in _forms(w))
            direct_forms.update(form for w in entry.get("direct_words", ()) for form in _forms(w))
            if entry.get("platform_first"):
                self.platform_first.add(lang)
            self.compound_fees.update({form: lang for w in entry.get("compound_fee_words", ()) for form in _forms(w)})
            exclusions.update(form for w in entry.get("compound_fee_exclusions", ()) for form in _forms(w))
            for role, value, word in roles:
                for form in _forms(word):
                    self.phrases.setdefault(form, Phrase(role, value, lang))
        # The big patterns (number words, "at"/"dot" words) are compiled on first use, below: most
        # messages never need them, and compiling them all cost a sixth of the scan command's start-up.
        self.latin_number_words = frozenset(w for w in self.numbers if w.isascii())
        self.latin_number_prefixes = frozenset(w[:4] for w in self.latin_number_words if len(w) >= 4)
        self._nonlatin_numbers = [w for w in self.numbers if not w.isascii()]
        self._at_words, self._dot_words = at_words, dot_words
        self._app_nouns = app_nouns
        self._platform_words, self._deal_words, self._meet_words = platform_words, deal_words, meet_words
        self._direct_forms = direct_forms
        self._trade_words = trade_words
        self.compound_fee_exclusions = tuple(sorted(exclusions))
        self.at_words = frozenset(at_words)
        hints = at_words | dot_words
        self.link_hints = frozenset(h.split()[0] for h in hints if h.isascii())
        self._nonlatin_hints = [h for h in hints if not h.isascii()]
        # Each phrase is looked for only when its key is in the message: for Latin phrases the
        # longest word that is not a common English word, for the others the phrase itself.
        # Patterns are compiled on first use: compiling all of them at import cost 0.15 s of start-up.
        self.by_key: dict[str, list[tuple[str, Phrase]]] = {}
        self.nonlatin: list[tuple[str, Phrase]] = []
        for text, phrase in self.phrases.items():
            if text.isascii():
                self.by_key.setdefault(_key_word(text), []).append((text, phrase))
            else:
                self.nonlatin.append((text, phrase))
        self.phrase_keys = frozenset(self.by_key)
        # The letter runs of each Latin phrase: in ASCII text a phrase can match only where every
        # one of them is a word of the message, so a phrase missing one is not searched for (its
        # pattern, which opens with a look-behind, is tried at every position of the text).
        self.phrase_words = {text: frozenset(re.findall(r"[a-z]+", text.lower())) for entries in self.by_key.values()
                             for text, _ in entries}
        self.latin_cues = frozenset(c for c in self.phone_cues if c.isascii() and " " not in c and "-" not in c)
        # First characters of the non-Latin entries: a message sharing none (emoji, accented Latin)
        # needs none of their patterns.
        self.nonlatin_number_starts = frozenset(w[0] for w in self._nonlatin_numbers)
        self.nonlatin_hint_starts = frozenset(h[0] for h in self._nonlatin_hints)
        self.nonlatin_phrase_starts = frozenset(p[0] for p, _ in self.nonlatin)
        self.nonlatin_cues = tuple(c for c in self.phone_cues if not c.isascii() or " " in c or "-" in c)
        # The ones an ASCII text can hold ("call karo", "m-pesa"), in the same order: no other is a substring of it.
        self.ascii_nonlatin_cues = tuple(c for c in self.nonlatin_cues if c.isascii())

    @cached_property
    def nonlatin_phrase_pattern(self) -> re.Pattern[str] | None:
        """Every non-Latin phrase as a literal, in one alternation: a search finds one exactly when
        some phrase is a substring (``any(p in lowered ...)``, one phrase at a time, cost a Python
        step per phrase on every message with an accented letter or an emoji)."""
        if not self.nonlatin:
            return None
        return re.compile("|".join(re.escape(p) for p in sorted({p for p, _ in self.nonlatin}, key=len, reverse=True)))


    @cached_property
    def number_pattern(self) -> re.Pattern[str]:
        """A run of number words of any language."""
        return _number_pattern(self.numbers, self.joiners)

    @cached_property
    def ascii_number_heads(self) -> tuple[tuple[int, frozenset[str]], ...] | None:
        """What a run of letters in ASCII text must start with for ``number_pattern`` to match there.

        For each length, the heads of that many letters (lower case) number words begin with: a
        word's first ``_HEAD_LETTERS`` characters, or fewer when one matches more than letters (a
        hyphen, a space) or the word ends. Built with the regex engine's own case-insensitive
        comparison, so a word of another script that ASCII text can match ("sıfır" matches
        "SIFIR") is counted and one none can ("〇", "दो") is left out; None (no shortcut) if a word
        can start with an ASCII character that is not a letter.
        """
        heads: dict[int, set[str]] = {}
        for word in self.numbers:
            prefixes = [""]
            for char in word[:_HEAD_LETTERS]:
                matching = _ascii_matching(char)
                if not matching <= _ASCII_LOWER:
                    break
                prefixes = [p + a for p in prefixes for a in matching]  # none: ASCII text never matches the word
            if not prefixes:
                continue
            if prefixes == [""]:
                return None
            heads.setdefault(len(prefixes[0]), set()).update(prefixes)
        return tuple((length, frozenset(found)) for length, found in sorted(heads.items()))

    @cached_property
    def area_code_pattern(self) -> re.Pattern[str] | None:
        """Places whose telephone area code a number's riddle may name ("area code same as Denver")."""
        return _bounded_alternation(self.area_codes) if self.area_codes else None

    @cached_property
    def app_nouns(self) -> re.Pattern[str]:
        """Words that make a description an app ("the ghost app", "the site with the bird")."""
        return _bounded_alternation(self._app_nouns or {"app"})

    @cached_property
    def platform_words(self) -> re.Pattern[str]:
        """Words for the platform or this place ("la plataforma", "aquí", "сайта"), partners of leave words."""
        return _bounded_alternation(self._platform_words or {"platform"})

    @cached_property
    def deal_words(self) -> re.Pattern[str]:
        """Words for closing or paying a deal ("cerramos", "abwickeln", "сделку"), partners of direct words."""
        return _bounded_alternation(self._deal_words or {"deal"})

    @cached_property
    def direct_inside(self) -> re.Pattern[str]:
        """A direct word ("напрямую", "en direct", "directo") inside an off_platform phrase ("directo conmigo")."""
        return _bounded_alternation(self._direct_forms or {"directly"})

    @cached_property
    def meet_words(self) -> re.Pattern[str]:
        """Words for meeting in person ("meet", "en persona", "встретимся"), partners of cash words."""
        return _bounded_alternation(self._meet_words or {"meet"})

    @cached_property
    def trade_word_runs(self) -> frozenset[str] | None:
        """The first letter run of each ASCII trade word: ASCII text holding none of them cannot
        match ``trade_words`` (None when an ASCII entry starts with no letter)."""
        runs = [re.match(r"[a-z]+", w) for w in self._trade_words if w.isascii()]
        return None if any(r is None for r in runs) else frozenset(r.group() for r in runs if r is not None)

    @cached_property
    def trade_words(self) -> re.Pattern[str] | None:
        """Words before the trade's own numbers in other languages ("Numer przesyłki", "kargo takip", "订单")."""
        return _bounded_alternation(self._trade_words) if self._trade_words else None

    @cached_property
    def number_word(self) -> re.Pattern[str]:
        """One number word or joiner."""
        return re.compile(_alternation([*self.numbers, *self.joiners]), re.IGNORECASE)

    @cached_property
    def nonlatin_numbers(self) -> re.Pattern[str] | None:
        """Number words in scripts other than Latin."""
        return re.compile(_alternation(self._nonlatin_numbers)) if self._nonlatin_numbers else None

    @cached_property
    def link_pattern(self) -> re.Pattern[str] | None:
        """Words for "@" and "." between address parts."""
        return _link_pattern(self._at_words, self._dot_words)

    @cached_property
    def nonlatin_link_hints(self) -> re.Pattern[str] | None:
        """Words for "at" and "dot" in scripts other than Latin."""
        return re.compile(_alternation(self._nonlatin_hints)) if self._nonlatin_hints else None


_ENGLISH_NUMBER_WORDS = frozenset("zero oh o one two three four five six seven eight nine ten".split())
_COMMON = frozenset(
    """the a an on in to of my me is at for by you your i we it as and or with up own same name here find search look
    over there app site store shop qr code card cash bring meet face""".split()
)


@lru_cache(maxsize=4096)
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    """The pattern of one vocabulary phrase, compiled the first time a message could contain it."""
    return _bounded_alternation([phrase])


def _key_word(phrase: str) -> str:
    """The word a message must contain before ``phrase`` is looked for (the rarest-looking one)."""
    words = re.findall(r"[a-z]+", phrase)
    rare = [w for w in words if w not in _COMMON] or words or [phrase]
    return max(rare, key=len)


def _forms(word: str) -> set[str]:
    """The spellings a message may show after folding: alone a Cyrillic word of look-alike letters
    ("сто") turns Latin, inside Cyrillic text it stays as written."""
    folded = _fold(word)
    plain = " ".join(normalise(word.lower() + " ж").text.split()[:-1]) if not word.isascii() else folded
    return {folded, plain} - {""}


def _fold(word: str) -> str:
    """Fold a vocabulary entry exactly as messages are folded, in lower case."""
    return " ".join(normalise(word.lower()).text.split())


def _alternation(words) -> str:  # type: ignore[no-untyped-def]
    """One alternation, longest first, spaces matching any whitespace."""
    ordered = sorted(set(words), key=len, reverse=True)
    return "(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in ordered) + ")"


def _bounded_alternation(words) -> re.Pattern[str]:  # type: ignore[no-untyped-def]
    """Latin entries need word boundaries; entries in scripts without spaces do not."""
    latin = [w for w in words if w.isascii()]
    other = [w for w in words if not w[:1].isascii()]
    # A Latin word glued to another script ("LINEで") needs a boundary only on its Latin side.
    mixed = [w for w in words if w[:1].isascii() and not w.isascii()]
    parts = []
    if latin:
        parts.append(r"(?<![^\W_])" + _alternation(latin) + r"(?![^\W_])")
    if mixed:
        parts.append(r"(?<![^\W_])" + _alternation(mixed))
    if other:
        parts.append(_alternation(other))
    return re.compile("|".join(parts), re.IGNORECASE)


def _number_pattern(numbers: dict[str, tuple[int, str]], joiners: set[str]) -> re.Pattern[str]:
    """A run of number words: compounds ("achtendertig"), hyphens ("trente-neuf"), spaces."""
    word = _alternation([*numbers])
    joiner = _alternation(joiners) if joiners else "(?!)"
    link = rf"(?:-|\s+{joiner}\s+|\s*-?{joiner}-?|\s+|)"
    return re.compile(rf"(?<![^\W\d_]){word}(?:{link}{word})*(?![^\W\d_])", re.IGNORECASE)


def _link_pattern(at_words: set[str], dot_words: set[str]) -> re.Pattern[str] | None:
    """Words for "@" and "." between two Latin address parts ("nome arroba exemplo ponto com")."""
    if not at_words and not dot_words:
        return None
    at = _alternation(at_words) if at_words else "(?!)"
    dot = _alternation(dot_words) if dot_words else "(?!)"
    return re.compile(
        # A space or bracket on each side: the word stands alone, not inside a token ("9punt7" in an address).
        rf"(?<=[A-Za-z0-9_])(?:\s+[(\[]?|[(\[])\s*(?P<at>{at})\s*(?:[)\]]?\s+|[)\]])\s*(?=[A-Za-z0-9])"
        rf"|(?<=[A-Za-z0-9])(?:\s+[(\[]?|[(\[])\s*(?P<dot>{dot})\s*(?:[)\]]?\s+|[)\]])\s*(?=[A-Za-z0-9])",
        re.IGNORECASE,
    )


_WORDS = re.compile(r"[^\W\d_]+")


def load(text: str) -> Vocabulary:
    """Build the vocabulary from the JSON text of a languages file."""
    return Vocabulary(json.loads(text))


VOCABULARY = Vocabulary(languages_data())


def rewrite_links(folded: NormalisedText, gate: MessageWords | None = None, vocabulary: Vocabulary = VOCABULARY) -> NormalisedText:
    """Replace the words for "at" and "dot" between address parts with the symbols."""
    text = folded.text
    words = gate.words if gate is not None else _WORDS.findall(text.lower())
    if vocabulary.link_hints.isdisjoint(words) and (
        text.isascii() or vocabulary.nonlatin_hint_starts.isdisjoint(text) or vocabulary.nonlatin_link_hints is None
        or not vocabulary.nonlatin_link_hints.search(text)
    ):
        return folded
    pattern = vocabulary.link_pattern
    if pattern is None:
        return folded
    return _rewrite(folded, pattern, lambda m: "@" if m.group("at") else ".")


# --- numbers ------------------------------------------------------------------------------


def might_have_numbers(text: str, gate: MessageWords, vocabulary: Vocabulary = VOCABULARY) -> bool:
    """Cheap test: two number words of some language, or a compound starting like one."""
    present = gate.words & vocabulary.latin_number_words
    count = len(present)
    # English digit words alone ("seven zero two") are the phone detector's own; the other
    # languages' patterns are needed only when one of their words is there too.
    if count >= 2 and not present <= _ENGLISH_NUMBER_WORDS:
        return True
    if count >= 1 and any(len(w) > 6 and w[:4] in vocabulary.latin_number_prefixes for w in gate.words):
        return True  # "nul zes, achtendertig": compounds come with plain number words
    if not text.isascii() and vocabulary.nonlatin_numbers is not None and not vocabulary.nonlatin_number_starts.isdisjoint(text):
        found = vocabulary.nonlatin_numbers.finditer(text)
        return next(found, None) is not None and next(found, None) is not None
    return False


def languages_of(text: str, spans: list[tuple[int, int]], vocabulary: Vocabulary = VOCABULARY) -> list[str]:
    """The languages whose number words fill ``spans`` of ``text``, most words first."""
    votes: dict[str, int] = {}
    for start, end in spans:
        for match in vocabulary.number_word.finditer(text, start, end):
            for lang in vocabulary.number_langs.get(match.group().lower(), ()):
                votes[lang] = votes.get(lang, 0) + 1
    return sorted(votes, key=lambda lang: -votes[lang])


def number_groups(text: str, vocabulary: Vocabulary = VOCABULARY) -> list[tuple[int, int, str, str]]:
    """Spelled-out numbers as (start, end, digits, lang), one per group a reader would say."""
    if text.isascii() and not _may_hold_number_words(text, vocabulary):
        return []
    return _number_groups(text, vocabulary)


def _number_groups(text: str, vocabulary: Vocabulary) -> list[tuple[int, int, str, str]]:
    """``number_groups`` without the ASCII shortcut: every run ``number_pattern`` finds."""
    groups: list[tuple[int, int, str, str]] = []
    for run in bounded(vocabulary.number_pattern.finditer(text)):
        groups.extend(_groups_in_run(run.group(), run.start(), vocabulary))
    return groups


_ASCII_LETTER_RUN = re.compile(r"[a-z]+")


def _may_hold_number_words(text: str, vocabulary: Vocabulary) -> bool:
    """False only when ``number_pattern`` certainly finds nothing in ASCII ``text``.

    A match starts with a number word at the start of a run of letters (its pattern's
    look-behind); the run's first letters tell whether any number word can start there
    (``Vocabulary.ascii_number_heads``). The whole pattern, an alternation of some 400 words tried
    at every position, cost 0.2-0.4 ms on a short message of plain chat.
    """
    heads = vocabulary.ascii_number_heads
    if heads is None:
        return True
    for run in _ASCII_LETTER_RUN.findall(text.lower()):
        for length, found in heads:
            if run[:length] in found:
                return True
    return False


_HEAD_LETTERS = 4
_ASCII_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")


@lru_cache(maxsize=None)
def _ascii_matching(char: str) -> frozenset[str]:
    """The ASCII characters a case-insensitive pattern of ``char`` matches, letters in lower case."""
    pattern = re.compile(re.escape(char), re.IGNORECASE)
    return frozenset(chr(c).lower() for c in range(128) if pattern.fullmatch(chr(c)))


def _groups_in_run(run: str, offset: int, vocabulary: Vocabulary) -> list[tuple[int, int, str, str]]:
    """Add up words that form one number ("quatre-vingt-dix-huit" 98); start a new one otherwise."""
    out: list[tuple[int, int, str, str]] = []
    value = last = start = end = 0
    lang = ""
    open_group = False
    joined = False
    for match in vocabulary.number_word.finditer(run):
        word = match.group().lower()
        if word in vocabulary.joiners and word not in vocabulary.numbers:
            joined = True
            continue
        number, word_lang = vocabulary.numbers.get(word, (None, ""))
        if number is None:
            continue
        if open_group and _continues(value, last, number, joined):
            value = number + value if (joined and last < 10 and number >= 20 and number % 10 == 0) else (
                value * number if number == 100 and value < 10 else value + number)
            last = number
            end = match.end()
        else:
            if open_group:
                out.append((offset + start, offset + end, str(value), lang))
            value, last, start, end, lang, open_group = number, number, match.start(), match.end(), word_lang, True
        joined = False
    if open_group:
        out.append((offset + start, offset + end, str(value), lang))
    return out


def _continues(value: int, last: int, number: int, joined: bool) -> bool:
    """True when ``number`` is part of the number being said rather than the next one."""
    if number == 100 and 0 < value < 10:
        return True  # "cinq cents", "sette cento"
    if joined and last < 10 and number >= 20 and number % 10 == 0 and value < 10:
        return True  # "acht-und-dreißig", "een-en-zeventig"
    if last >= 100 and last % 100 == 0 and number < 100:
        return True  # "девятьсот шестнадцать"
    if last >= 20 and last % 10 == 0 and number < 10 and value % 10 == 0:
        return True  # "trente et un", "treinta y cuatro"
    if last in (60, 80) and 10 <= number < 20 and value % 20 == 0:
        return True  # "soixante-dix-sept", "quatre-vingt-dix-huit"
    if last == 10 and number < 10 and value % 10 == 0 and value >= 70:
        return True  # the "-huit" after "quatre-vingt-dix"
    return False


# --- phrases --------------------------------------------------------------------------------


def has_phone_cue(text: str, gate: MessageWords, vocabulary: Vocabulary = VOCABULARY) -> str | None:
    """The language of a word saying a phone number follows ("Handy", "звоните"), if any."""
    for word in gate.words & vocabulary.latin_cues:
        return vocabulary.phone_cues[word]
    if not text.isascii() or " " in text:
        lowered = gate.lowered
        # The first cue in order that ``lowered`` holds; an ASCII one holds no cue with another character.
        for cue in vocabulary.ascii_nonlatin_cues if lowered.isascii() else vocabulary.nonlatin_cues:
            if cue in lowered:
                return vocabulary.phone_cues[cue]
    return None


def might_have_phrases(text: str, gate: MessageWords, vocabulary: Vocabulary = VOCABULARY) -> bool:
    """Cheap test for any app, rail, fee or leaving-the-platform phrase of another language."""
    if not gate.words.isdisjoint(vocabulary.phrase_keys) or "@" in text:
        return True
    if text.isascii() or vocabulary.nonlatin_phrase_starts.isdisjoint(gate.lowered):
        return False
    pattern = vocabulary.nonlatin_phrase_pattern
    return pattern is not None and pattern.search(gate.lowered) is not None


# App slang of other languages that is also English chat ("whats your name", "wats up").
_ENGLISH_WORDS = frozenset({"whats", "wats"})


def _placed(text: str, match: re.Match[str]) -> bool:
    """A short Latin app name counts only where a channel is expected."""
    word = match.group()
    if (len(word) > 3 and word.lower() not in _ENGLISH_WORDS) or not word.isascii():
        return True
    return _PLACED_BEFORE.search(text[max(0, match.start() - 8) : match.start()]) is not None or text.startswith(":", match.end())


def _lang(phrase: Phrase) -> str | None:
    """English entries (riddles, descriptions) carry no language tag."""
    return None if phrase.lang == "en" else phrase.lang


def find_phrases(text: str, gate: MessageWords, vocabulary: Vocabulary = VOCABULARY) -> list[Hit]:
    """Apps, rails, fee dodging and leaving the platform, in the languages of the vocabulary."""
    if not might_have_phrases(text, gate, vocabulary):
        return []
    keys = gate.words & vocabulary.phrase_keys
    if text.isascii():
        words, phrase_words = gate.words, vocabulary.phrase_words
        candidates = [entry for key in keys for entry in vocabulary.by_key[key] if phrase_words[entry[0]] <= words]
    else:
        candidates = [entry for key in keys for entry in vocabulary.by_key[key]]
        lowered = gate.lowered
        candidates.extend(entry for entry in vocabulary.nonlatin if entry[0] in lowered)
    found: list[tuple[re.Match[str], Phrase]] = []
    for phrase_text, phrase in candidates:
        for match in bounded(_phrase_pattern(phrase_text).finditer(text)):
            if not _refused(text, match, phrase):
                found.append((match, phrase))
    found.sort(key=lambda item: item[0].start())
    # A longer phrase covering a shorter one of the same role wins ("virement bancaire" over "virement").
    found = [(m, p) for m, p in found if not any(
        o is not m and op.role == p.role and o.start() <= m.start() and m.end() <= o.end() and (o.end() - o.start()) > (m.end() - m.start())
        for o, op in found)]
    # A leaving phrase that only says "directly" ("напрямую", "en direct", "directo conmigo") keeps
    # the deal here when its clause goes through the platform, as a direct word does (issue 15).
    found = [(m, p) for m, p in found if not (
        p.role == "off_platform" and vocabulary.direct_inside.search(m.group())
        and _stays(text, m, vocabulary, tuple(o for o, op in found if op.role in ("leave", "avoider"))))]
    hits: list[Hit] = _leaving_pairs(text, found, vocabulary)
    leaving = bool(hits) or any(p.role == "off_platform" for _, p in found)
    hits += _cash_meetups(text, found, vocabulary)
    fees = [m for m, p in found if p.role == "fee"]
    avoiders = [m for m, p in found if p.role == "avoider"]
    if avoiders and not fees and vocabulary.compound_fees:
        fees = _compound_fees(text, gate, avoiders, vocabulary)
        found.extend((m, Phrase("fee", "fee", lang)) for m, lang in fees)
        fees = [m for m, _ in fees]
    dodging = [(f, a) for f in fees for a in avoiders if abs(f.start() - a.end()) < 30 or abs(a.start() - f.end()) < 30]
    for fee, avoider in dodging[:1]:
        lang = next(p.lang for m, p in found if m is fee)
        start, end = min(fee.start(), avoider.start()), max(fee.end(), avoider.end())
        hits.append(Hit("payment", ((start, end),), "fee_avoidance", 0.85, lang))
    upi = list(bounded(_UPI.finditer(text))) if "@" in text else []
    for match in upi:
        hits.append(Hit("payment", ((match.start(), match.end()),), "upi:" + match.group().lower(), 0.93, "hi"))
    strong_context = leaving or bool(dodging) or bool(upi)
    for match, phrase in found:
        span = ((match.start(), match.end()),)
        if phrase.role == "off_platform":
            hits.append(Hit("intent", span, "off_platform", 0.85, _lang(phrase)))
        elif phrase.role == "rail" and (phrase.value not in _WEAK_RAILS or strong_context) and not asks_what_checkout_takes(text, match.start()):
            hits.append(Hit("payment", span, phrase.value, 0.88, _lang(phrase)))
        elif phrase.role == "app" and (phrase.value not in _WEAK_APPS or strong_context or _invites(text, match)) and _placed(text, match):
            hits.append(Hit("handle", span, phrase.value, 0.88, _lang(phrase)))
        elif phrase.role == "riddle" and _describes_app(text, match, vocabulary) and (phrase.value not in _WEAK_APPS or strong_context
                                                                                      or _invites(text, match)):
            # A riddle says which app it means; it outranks the plain word it may contain ("the app facebook bought").
            hits.append(Hit("handle", span, phrase.value, 0.95, _lang(phrase)))
    return hits


def _refused(text: str, match: re.Match[str], phrase: Phrase) -> bool:
    """``is_refused``, reading a Portuguese "no"/"na" before the mention as the preposition it is."""
    if not is_refused(text, match.start(), match.end(), phrase.role not in ("fee", "avoider")):
        return False
    if phrase.lang != "pt":
        return True
    on_the = _PT_ON_THE.search(text, max(0, match.start() - 12), match.start())
    if on_the is None:
        return True
    blanked = text[: on_the.start()] + " " * (on_the.end() - on_the.start()) + text[on_the.end():]
    return is_refused(blanked, match.start(), match.end())


# --- leaving the platform, said in parts -------------------------------------------------------
# People say "without the platform", "outside of here", "let's settle it between us" in many
# words; the vocabulary lists the parts per language (leave_words + platform_words, direct_words
# + deal_words) and a pair in one clause, close together, counts as leaving the platform.
_PAIR_GAP = 16


def _leaving_pairs(text: str, found: list[tuple[re.Match[str], Phrase]], vocabulary: Vocabulary) -> list[Hit]:
    """One intent hit for the first leave word followed by a platform word, or direct word next to a deal word."""
    for match, phrase in found:
        if phrase.role in ("leave", "avoider"):
            lo = max(0, match.start() - _PAIR_GAP) if phrase.lang in vocabulary.platform_first else match.end()
            hi = min(len(text), match.end() + _PAIR_GAP)
            for partner in vocabulary.platform_words.finditer(text, lo, hi):
                if partner.start() >= match.end() or phrase.lang in vocabulary.platform_first and partner.end() <= match.start():
                    hit = _pair_hit(text, match, partner, phrase)
                    if hit:
                        return [hit]
        if phrase.role in ("direct", "leave"):
            lo, hi = max(0, match.start() - 2 * _PAIR_GAP), min(len(text), match.end() + 2 * _PAIR_GAP)
            if _stays(text, match, vocabulary):
                continue
            for partner in vocabulary.deal_words.finditer(text, lo, hi):
                if partner.end() <= match.start() or partner.start() >= match.end():
                    hit = _pair_hit(text, match, partner, phrase)
                    if hit:
                        return [hit]
    return []


def _cash_meetups(text: str, found: list[tuple[re.Match[str], Phrase]], vocabulary: Vocabulary) -> list[Hit]:
    """Cash next to meeting in person, in one sentence ("meet me at the mall with cash"): paying around the platform."""
    for match, phrase in found:
        if phrase.role != "cash":
            continue
        lo, hi = max(0, match.start() - 3 * _PAIR_GAP), min(len(text), match.end() + 3 * _PAIR_GAP)
        for partner in vocabulary.meet_words.finditer(text, lo, hi):
            start, end = min(match.start(), partner.start()), max(match.end(), partner.end())
            if _SENTENCE_BREAK.search(text, start, end) is None and not is_refused(text, start, end):
                return [Hit("payment", ((start, end),), "cash_meetup", 0.85, _lang(phrase))]
    return []


_SENTENCE_BREAK = re.compile(r"[.;!?\n]")


def _pair_hit(text: str, word: re.Match[str], partner: re.Match[str], phrase: Phrase) -> Hit | None:
    """The pair's hit when both sit in one clause and the proposal is not refused."""
    start, end = min(word.start(), partner.start()), max(word.end(), partner.end())
    if _CLAUSE_BREAK.search(text, start, end) is not None or is_refused(text, start, end):
        return None
    return Hit("intent", ((start, end),), "off_platform", 0.85, _lang(phrase))


def _stays(text: str, word: re.Match[str], vocabulary: Vocabulary, leaving: tuple[re.Match[str], ...] = ()) -> bool:
    """'Pay directly through the checkout' keeps the deal here: a platform word in the clause, not
    negated between it and the direct word ("and not through the site")."""
    start = word.start()
    while start > 0 and not _CLAUSE_BREAK.match(text, start - 1):
        start -= 1
    end = _CLAUSE_BREAK.search(text, word.end())
    for platform in vocabulary.platform_words.finditer(text, start, end.start() if end else len(text)):
        lo, hi = (word.end(), platform.start()) if platform.start() >= word.end() else (start, platform.start())
        if not negates(text[lo:hi]) and not any(lo <= m.start() < hi for m in leaving):  # "напрямую, без сайта"
            return True
    return False


def _compound_fees(text: str, gate: MessageWords, avoiders: list[re.Match[str]], vocabulary: Vocabulary) -> list[tuple[re.Match[str], str]]:
    """Fee words inside compounds and inflections ("ohne Vermittlungsgebühr", "utan avgifterna"), for the
    languages that glue words: right after the avoider (an article between at most), and not a shipping
    or service charge ("utan fraktavgiften" says the price leaves shipping out)."""
    out: list[tuple[re.Match[str], str]] = []
    for word in gate.words:
        fee = next((fee for fee in vocabulary.compound_fees if fee in word), None) if len(word) > 5 else None
        if fee is None or word.startswith(vocabulary.compound_fee_exclusions):
            continue
        for match in re.finditer(r"(?<![^\W_])" + re.escape(word) + r"(?![^\W_])", text, re.IGNORECASE):
            if any(0 <= match.start() - a.end() <= 6 for a in avoiders):
                out.append((match, vocabulary.compound_fees[fee]))
                break
    return out


_RIDDLE_REACH = 40
# A described marketplace is a rival site only when the writer sends the reader there.
_SENDS_THERE = re.compile(
    r"\b(?:under|as|search|look\s+(?:me\s+)?up|find\s+me|grab|buy|order|come|cheaper|no\s+(?:buyer\s+)?fees?|skip|"
    r"same\s+(?:name|handle|username)|my\s+(?:shop|store|page|stuff|listings?))\b",
    re.IGNORECASE,
)


def _describes_app(text: str, match: re.Match[str], vocabulary: Vocabulary) -> bool:
    """A riddle word counts next to a word for an app in the same clause ("the bird site", "the app with the ghost")."""
    left = max(0, match.start() - _RIDDLE_REACH)
    for noun in vocabulary.app_nouns.finditer(text, left, min(len(text), match.end() + _RIDDLE_REACH)):
        if match.start() <= noun.start() < match.end():
            continue  # the riddle's own word ("green chat") does not make it an app
        lo, hi = min(noun.start(), match.start()), max(noun.end(), match.end())
        if _CLAUSE_BREAK.search(text, lo, hi) is None:
            return True
    return False


_CLAUSE_BREAK = re.compile(r"[.,;:!?\n]")


def _invites(text: str, match: re.Match[str]) -> bool:
    """The sentence around a described rival marketplace sends the reader there."""
    start = max(0, match.start() - 80)
    return _SENDS_THERE.search(text, start, min(len(text), match.end() + 80)) is not None
