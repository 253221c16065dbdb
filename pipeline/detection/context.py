"""Clause-level context: refusals, warnings and platform talk that make a mention harmless.

"I won't do Zelle", "beware of WhatsApp scams" and "PayPal is a no, checkout please" name a
channel without proposing it; the detectors ask this module before reporting a mention.
"""

from __future__ import annotations

import json
import pkgutil
import re
from functools import lru_cache

from pipeline.detection.normalise import normalise

_CLAUSE_BREAK = re.compile(r"[.!?;\n,]|\b(?:but|though|however|although|otherwise)\b", re.IGNORECASE)
_SENTENCE_BREAK = re.compile(r"[.!?\n]+(?:\s|$)")

# Negators that, shortly before a mention in the same clause, turn it into a refusal.
_NEGATOR = re.compile(
    r"\b(?:no|not|never|nor|won'?t|don'?t|do not|doesn'?t|does not|can'?t|cannot|can not|"
    r"shouldn'?t|wouldn'?t|refuse|refuses|stop|instead of|rather than|other than|except|"
    r"avoid|quit|hate|ban|banned|deleted|closed|deactivated|stopped using|got off|gave up|used to|"
    # The same in other languages members write in (accents folded): pt, es, fr, de, it, sv, pl, ru.
    r"nao|nunca|jamais|pas|nicht|kein|keine|keinen|niente|mai|inte|aldrig|nie|не|нет|никогда)\b|n't\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def languages_data() -> dict:  # type: ignore[type-arg]
    """``data/languages.json``, parsed once per process (``languages.VOCABULARY`` is built from it too)."""
    return json.loads((pkgutil.get_data("pipeline.detection", "data/languages.json") or b"{}").decode("utf-8"))  # type: ignore[no-any-return]


def _vocabulary_words(*keys: str, lang: str | None = None) -> list[str]:
    """Words of ``keys`` from every language of ``data/languages.json`` (or of ``lang`` only), folded
    as messages are (accents off, lower case) and as written."""
    words: set[str] = set()
    for name, entry in languages_data().get("languages", {}).items():
        if lang is not None and name != lang:
            continue
        for key in keys:
            for word in entry.get(key, ()):
                # As ``languages._forms``: a non-Latin word is folded inside its own script, so that
                # Cyrillic "не" does not turn into the Latin look-alike "he".
                folded = normalise(word.lower() + (" ж" if not word.isascii() else "")).text.split()
                words.update({word.lower(), " ".join(folded[:-1] if not word.isascii() else folded)} - {""})
    return sorted(words, key=len, reverse=True)


_UNSPACED = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")


def _word_alternation(words: list[str]) -> str:
    """Words as whole words (no hyphen after: "non-negotiable" is no "non"); those of scripts
    written without spaces (Chinese, Thai) as they stand."""
    spaced = [re.escape(w).replace(r"\ ", r"\s+") for w in words if not _UNSPACED.search(w)]
    unspaced = [re.escape(w) for w in words if _UNSPACED.search(w)]
    parts = [r"(?<![^\W_])(?:" + "|".join(spaced) + r")(?![^\W_]|-)"] if spaced else []
    parts += ["(?:" + "|".join(unspaced) + ")"] if unspaced else []
    return "|".join(parts) or "(?!)"


# The negators of other languages (``negators`` in the data file: Italian "non", Indonesian
# "jangan", Hindi "मत", Arabic "لا"...) and those put after the verb (``late_negators``: Hindi
# "मत करना", Turkish "yapmayın").
# Compiled on first use (``_data_pattern``): most messages never need them, and start-up stays as it was.


@lru_cache(maxsize=None)
def _data_ascii_words(*keys: str) -> frozenset[str] | None:
    """The first letter run of each ASCII entry of ``keys`` ("na" of "na karein"): an entry matches
    only where that run stands whole (the pattern's bounds), so ASCII text holding none of them
    cannot match ``_data_pattern(*keys)``. None when an ASCII entry starts with no letter."""
    runs = [_LETTERS.match(w) for w in _vocabulary_words(*keys) if w.isascii()]
    return None if any(r is None for r in runs) else frozenset(r.group() for r in runs if r is not None)


def _may_hold(text: str, *keys: str) -> bool:
    """Cheap test before ``_data_pattern(*keys)``: most messages are ASCII and share no word with it."""
    if not text.isascii():
        return True
    words = _data_ascii_words(*keys)
    return words is None or not words.isdisjoint(_LETTERS.findall(text.lower()))


_LETTERS = re.compile(r"[a-z]+")


@lru_cache(maxsize=None)
def _data_pattern(*keys: str) -> re.Pattern[str]:
    """The words of ``keys`` in every language as one pattern (``_word_alternation``)."""
    return re.compile(_word_alternation(_vocabulary_words(*keys)), re.IGNORECASE)
# Fixed phrases that contain a negator but do not negate the channel after them.
_NEGATOR_EXCEPTIONS = re.compile(
    r"\b(?:why not|if not|no problem|no prob|no worries|no rush|no biggie|not sure|no fees?|no middle\s?m[ae]n|"
    r"not a problem|no hassle|no need to (?:pay|use) (?:the )?(?:fee|checkout)s?)\b",
    re.IGNORECASE,
)
_TRAILING_REFUSAL = re.compile(
    r"^\W{0,3}(?:(?:is|are|'s)\s+)?(?:a\s+no\b|a\s+no-go|no\s+go|out\b|not\s+(?:an\s+option|happening|"
    r"allowed|accepted|possible|ok|okay|for me)|off the table|banned|blocked|isn'?t|aren'?t|"
    r"won'?t work|doesn'?t work|no thanks|no thank you|has\s+no\s+(?:buyer\s+)?protection|"
    r"(?:is|are)\s+(?:risky|unsafe|not\s+safe)|(?:absolutely|definitely|hell|heck)\s+not|no\s+way|nope|never\b|"
    r"(?:i'?ll\s+)?pass\b|no\b(?!\s+(?:problem|prob|worries|rush|(?:app|site|platform|buyer|seller|extra)\s+fees?|fees?|middle\s?m[ae]n|commission|cut|questions))|i\s+don'?t\s+(?:even\s+)?(?:have|use|do)\b)",
    re.IGNORECASE,
)
# Warnings and reports about third parties: the whole sentence is talk about the channel.
_WARNING = re.compile(
    r"\b(?:scam\w*|fraud\w*|beware|careful|blocked|blocking|reported|reporting|report\s+(?:you|them|him|her|it|this)|"
    r"phish\w*|fake|warn\w*|nightmare|ripped\s+off|burn(?:ed|t)|never\s+again|suspicious|sketchy|"
    r"against\s+(?:the\s+)?(?:rules|tos|terms|policy)|not\s+allowed|asked\s+me\s+to|wanted\s+me\s+to|"
    r"tried\s+to\s+(?:get|make)\s+me|told\s+me\s+to|keeps?\s+asking|(?:always\s+)?say\s+no|said\s+no|"
    r"turn(?:ed)?\s+(?:it|them|that)\s+down|declin\w+)\b"
    r"|\b(?:people|buyers|sellers|folks|others|scammers)\s+(?:\w+\s+)?(?:ask|asked|asking|want|wanted|try|tried|"
    r"keep|kept|push|pushed)\b"
    # Reports about a third party need a reporting verb: "someone asked me to pay by Zelle".
    r"|\b(?:someone|somebody|some\s+guy|this\s+guy|a\s+(?:seller|buyer|guy|member)|another\s+(?:seller|buyer))\s+"
    r"(?:\w+\s+)?(?:asked|wanted|tried|told|keeps|kept|messaged|offered|insisted|pushed|sent)\b",
    re.IGNORECASE,
)
# Reassurances ("not a scammer", "no scam") are not warnings; they often come with the push itself.
_REASSURANCE = re.compile(r"\b(?:not|no|never|nothing)\s+(?:a\s+|an\s+)?(?:scam\w*|fraud\w*|fake)\b", re.IGNORECASE)
# A sentence that states a preference for the platform turns a channel mention into a contrast
# ("I use PayPal elsewhere but here checkout is fine").
_PLATFORM_PREFERRED = re.compile(
    r"\b(?:checkout|the site|here|the platform|escrow|peer\s?metals)\s+(?:is|works)\s+(?:fine|better|best|safer|"
    r"ok|okay|good|great)\b|\b(?:checkout|site|platform|escrow)\s+only\b|\bonly\s+(?:through|via|on|use|accept|take|do)\s+"
    r"(?:the\s+)?(?:checkout|site|platform|peer\s?metals)\b|\bkeep\s+(?:it|this|everything)\s+(?:here|on\s+(?:the\s+)?"
    r"(?:site|platform|peer\s?metals))\b",
    re.IGNORECASE,
)
_PLATFORM_AFTER = re.compile(
    r"^[^.!?;\n]{0,30}\b(?:through|thru|via|on|using|in|with)\s+(?:the\s+)?(?:site|checkout|platform|"
    r"app's checkout|site's checkout|peer\s?metals|here|escrow)\b",
    re.IGNORECASE,
)
# Sentence-level signs that a channel name describes an old object or exhibit, not a way to pay.
_ITEM_SENTENCE = re.compile(
    r"\b(?:from the (?:1[789]|20)\d0s|antique|vintage|framed|memorabilia|not for sale|in the lot|included in the lot)\b",
    re.IGNORECASE,
)
_LOOKBACK = 40
# Languages that put the negation after the verb, which often follows the channel's name
# ("в телеграм переходить не буду", "Telegram nutze ich nicht", "WhatsApp, je n'utilise pas"): a
# negator of theirs later in the same clause refuses the mention.
_LATE_NEGATOR = re.compile(r"(?<![^\W\d_])(?:не|нет|nicht|kein\w*|pas|niet|nao|inte)(?![^\W\d_])", re.IGNORECASE)
# Telling where one heard of something ("I first heard about this variety in a WhatsApp group",
# "saw it on Instagram last year") is talk about a source, not an invitation, unless the sentence
# also invites ("join", "add me", "message me").
_HEARSAY = re.compile(
    r"\b(?:heard|read|learned|learnt|saw|seen|spotted|came\s+across|found\s+out|first\s+found|noticed)\b"
    r"(?:\s+(?:about|of))?[^.!?\n]{0,60}$",
    re.IGNORECASE,
)
_INVITATION = re.compile(
    r"\b(?:join|add\s+me|message\s+me|msg\s+me|dm\s+me|text\s+me|hit\s+me|find\s+me|contact\s+me|reach\s+me|ping\s+me|"
    r"follow\s+me|my\s+(?:number|handle|username|group|channel))\b",
    re.IGNORECASE,
)


def clause_start(text: str, position: int) -> int:
    """Return where the clause containing ``position`` starts (bounded look-back)."""
    window_start = max(0, position - _LOOKBACK)
    last = window_start
    for match in _CLAUSE_BREAK.finditer(text, window_start, position):
        last = match.end()
    return last


def clause_end(text: str, position: int) -> int:
    """Return where the clause containing ``position`` ends (bounded look-ahead)."""
    match = _CLAUSE_BREAK.search(text, position, min(len(text), position + _LOOKBACK))
    return match.start() if match else min(len(text), position + _LOOKBACK)


def sentence_of(text: str, start: int, end: int) -> str:
    """Return the sentence around a span, bounded to a few hundred characters."""
    return text[_sentence_start(text, start) : _sentence_end(text, end)]


def _sentence_start(text: str, start: int) -> int:
    """Where ``sentence_of`` starts: after the last sentence break in the 200 characters before ``start``."""
    left = max(0, start - 200)
    for match in _SENTENCE_BREAK.finditer(text, left, start):
        left = match.end()
    return left


def _sentence_end(text: str, end: int) -> int:
    """Where ``sentence_of`` ends: at the first sentence break in the 200 characters after ``end``."""
    right_match = _SENTENCE_BREAK.search(text, end, min(len(text), end + 200))
    return right_match.start() if right_match else min(len(text), end + 200)


def negated_before(text: str, start: int, vocabulary: bool = True) -> bool:
    """True when a negator precedes ``start`` within its clause (a word of another language that only
    looks like one aside: Portuguese "me chama no zap", ``on_the`` below)."""
    words = text[clause_start(text, start) : start]
    return negates(words, vocabulary) and not _on_the(words, vocabulary)


@lru_cache(maxsize=1)
def _on_the_patterns() -> tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]:
    """Per language with ``on_the`` words in the data file: (the word last before the mention, after a
    word of its own; the language's ``on_the_cues`` as whole words). Built on first use: only clauses
    that already hold a negator ask."""
    patterns = []
    for lang, entry in languages_data().get("languages", {}).items():
        if entry.get("on_the") and entry.get("on_the_cues"):
            words = _word_alternation(_vocabulary_words("on_the", lang=lang))
            tail = re.compile(r"(?<=[^\W\d_])\s+(?:" + words + r")\s+$", re.IGNORECASE)
            patterns.append((tail, re.compile(_word_alternation(_vocabulary_words("on_the_cues", lang=lang)), re.IGNORECASE)))
    return tuple(patterns)


def _on_the(words: str, vocabulary: bool = True) -> bool:
    """True when the negator of ``words`` (a clause up to a mention) is another language's "on the"
    right before the mention ("Fala comigo no Telegram", "me paga no PayPal"): the word the mention
    follows, after a word, in a clause holding a cue of that language, and no other negator in it.
    An English "no WhatsApp please" or "I said no Telegram" has no Portuguese cue and stays a refusal."""
    for tail, cues in _on_the_patterns():
        found = tail.search(words)
        if found is not None and cues.search(words, 0, found.start()) is not None:
            return not negates(words[: found.start()], vocabulary)
    return False


def negates(words: str, vocabulary: bool = True) -> bool:
    """True when ``words`` hold a negator ("not", "не", "nicht"), set phrases such as "no problem" aside;
    ``vocabulary``: also the data file's negators of other languages ("non", "jangan", "मत")."""
    words = _NEGATOR_EXCEPTIONS.sub(" ", words)
    return _NEGATOR.search(words) is not None or vocabulary and _may_hold(words, "negators") and _data_pattern("negators").search(words) is not None


def refused_after(text: str, end: int, vocabulary: bool = True) -> bool:
    """True when the mention is followed by a refusal such as "is a no" or "not accepted"."""
    if _TRAILING_REFUSAL.search(text[end : end + 40]) is not None:
        return True
    stop = clause_end(text, end)
    late = _LATE_NEGATOR.search(text, end, stop) is not None or vocabulary and _data_pattern("late_negators").search(text, end, stop) is not None
    return late and (not text.isascii() or not _ENGLISH_CLAUSE.search(text, end, stop))


# An English clause ("WhatsApp me, pas de souci" aside): "pas"/"inte" there are not negators.
_ENGLISH_CLAUSE = re.compile(r"\b(?:the|me|my|you|is|and|to|on)\b", re.IGNORECASE)


def hearsay(text: str, start: int, end: int, sentence_start: int | None = None) -> bool:
    """True when the sentence tells where the writer heard of something, and invites nobody.

    ``sentence_start``: ``_sentence_start(text, start)``, when the caller has it already."""
    if sentence_start is None:
        sentence_start = _sentence_start(text, start)
    if _HEARSAY.search(text[sentence_start:start]) is None:
        return False
    return _INVITATION.search(text[sentence_start : _sentence_end(text, end)]) is None


def is_refused(text: str, start: int, end: int, vocabulary: bool = True) -> bool:
    """True when a channel mention at ``start:end`` is refused, warned about or reported.

    ``vocabulary=False`` leaves out the data file's negators: a fee word after one is the dodge
    itself ("così non paghiamo la commissione", "biar nggak kena potongan")."""
    if negated_before(text, start, vocabulary) or refused_after(text, end, vocabulary):
        return True
    # The sentence's start is read once for both tests (each used to look for it on its own).
    left = _sentence_start(text, start)
    if hearsay(text, start, end, left):
        return True
    sentence = _REASSURANCE.sub(" ", text[left : _sentence_end(text, end)])
    return _WARNING.search(sentence) is not None or _PLATFORM_PREFERRED.search(sentence) is not None


# What happened elsewhere ("paid a <rail> fee on another site", "charged me ... somewhere else")
# and questions whether the platform's own checkout offers a rail are talk, not a proposal.
_ELSEWHERE = re.compile(
    r"\b(?:another|other|different|an\s+older|a\s+previous|my\s+last)\s+(?:site|platform|marketplace|app|sale|deal|order|purchase|transaction)\b|\b(?:somewhere|someplace)\s+else\b|\belsewhere\b"
    r"|\bon\s+(?:ebay|etsy|craigslist|offerup|mercari|whatnot|facebook\s+marketplace)\b",
    re.IGNORECASE,
)
_PAST = re.compile(r"\b(?:paid|charged|used|sold|bought|had|was|were|saw|last\s+(?:week|month|year|time)|\w+\s+ago)\b", re.IGNORECASE)
_CHECKOUT_QUESTION = re.compile(
    r"\b(?:does|do|can|will|would|is)\s+(?:the\s+|your\s+|this\s+)?(?:peer\s?metals(?:'s?)?\s+|the\s+site'?s\s+)?"
    r"(?:checkout|site|platform|peer\s?metals|payment\s+page)\s+"
    r"(?:take|takes|accept|accepts|support|supports|allow|allows|offer|offers|do|have|has)\b",
    re.IGNORECASE,
)


_DECLINED_REPLY = re.compile(
    r"^\W*(?:no\b(?!\s+(?:problem|prob|worries|rush|biggie))|nope\b|nah\b|not\s+(?:really|possible)\b|i\s+don'?t\b|we\s+don'?t\b|can'?t\b)",
    re.IGNORECASE,
)


def keeps_to_platform(reply: str) -> bool:
    """True when a reply declines or points to the platform ("no, only through PeerMetals", "checkout only")."""
    return _PLATFORM_PREFERRED.search(reply) is not None or _DECLINED_REPLY.match(reply) is not None


# Words for the platform's own checkout in the languages members write in; a question naming one
# of them and a rail ("¿Aceptan PayPal en el pago de la plataforma?") asks what checkout offers.
_PLATFORM_NOUN = re.compile(
    r"\b(?:checkout|check-out|peer\s?metals|plataforma|plateforme|plattform|piattaforma|platform|sitio|site|seite|sito|pagina|página)\b",
    re.IGNORECASE,
)
# Unless the question proposes leaving ("instead of checkout?", "outside the site?").
_CONTRAST = re.compile(
    r"\b(?:instead|outside|off|rather|than|around|skip|avoid|bypass|without|direct|directly|fuera|hors|außerhalb|ausserhalb|fora|sin|sans|ohne|"
    r"senza|sem|en\s+lugar|au\s+lieu|statt|anstatt|invece)\b",
    re.IGNORECASE,
)


def through_checkout(clause: str) -> bool:
    """A clause of another language that pays through the platform's checkout ("über den Checkout der
    Seite", "sitenin üzerinden"): a via word and a checkout word at most three words apart, with no
    negator or contrast in the clause ("statt über die Seite")."""
    vias = list(_data_pattern("via_words").finditer(clause))
    if not vias:
        return False
    for word in _data_pattern("checkout_words").finditer(clause):
        for via in vias:
            lo, hi = min(via.end(), word.end()), max(via.start(), word.start())
            if len(clause[lo:hi].split()) <= 3:
                return not negates(clause) and _CONTRAST.search(clause) is None and _data_pattern("leave_words", "direct_words").search(clause) is None
    return False


def asks_what_checkout_takes(text: str, start: int) -> bool:
    """The question a rail at ``start`` opens names the platform's checkout and proposes no way around it."""
    after = text[start : start + 200]
    if "?" not in after:
        return False
    before = text[max(0, start - 200) : start]
    opening = max(before.rfind(c) for c in ".!?\n¿")
    question = before[opening + 1 :] + after.split("?")[0]
    # The data file's other languages: ``checkout_words`` ("malipo ya tovuti", "koszyk"), and their
    # leave and direct words as the contrast ("nje ya", "langsung").
    names_checkout = _PLATFORM_NOUN.search(question) is not None or _data_pattern("checkout_words").search(question) is not None
    return names_checkout and _CONTRAST.search(question) is None and _data_pattern("leave_words", "direct_words").search(question) is None


def platform_talk(text: str, start: int, end: int) -> bool:
    """True when the sentence asks about the platform's checkout or tells of a past deal elsewhere."""
    sentence = sentence_of(text, start, end)
    if _CHECKOUT_QUESTION.search(sentence):
        return True
    return _ELSEWHERE.search(sentence) is not None and _PAST.search(sentence) is not None


def describes_item(text: str, start: int, end: int) -> bool:
    """True when the words around a channel name describe an object ("a 1920s telegram, framed")."""
    return _ITEM_SENTENCE.search(text[max(0, start - 80) : end + 80]) is not None


def routed_through_platform(text: str, end: int) -> bool:
    """True when the words after a phrase keep it on the platform ("directly through checkout")."""
    return _PLATFORM_AFTER.search(text[end : end + 60]) is not None
