"""Scan one message: normalise, run every detector, resolve overlaps, map spans back."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from pipeline.detection import decoders, emails, handles, intents, languages, payments, phones, urls
from pipeline.detection.emails import find_emails
from pipeline.detection.findings import Finding, Span
from pipeline.detection.gates import MessageWords, joined_message_words, message_words, stem_candidates, stems
from pipeline.detection.gates import words_of as gates_words
from pipeline.detection.handles import find_handles
from pipeline.detection.hits import MAX_MATCHES, Hit
from pipeline.detection.intents import find_intents
from pipeline.detection.normalise import NormalisedText, normalise
from pipeline.detection.payments import find_payments
from pipeline.detection.phones import find_phones
from pipeline.detection.urls import find_urls

DEFAULT_PLATFORM_DOMAINS: tuple[str, ...] = ("peermetals.com",)
MAX_TEXT_CHARS = 1_048_576

def scan_text(text: str, *, platform_domains: Iterable[str] = DEFAULT_PLATFORM_DOMAINS) -> list[Finding]:
    """Return the off-platform contact and payment findings in one message, spans in ``text``."""
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
    if not text or _plain_chat(text):
        return []
    return _scan(text, platform_domains)


def scan_text_without_phones(text: str, *, platform_domains: Iterable[str] = DEFAULT_PLATFORM_DOMAINS) -> list[Finding]:
    """``scan_text``'s findings other than phones, in the same order, mostly without running ``find_phones``.

    For a caller that drops phone findings anyway (the split-message variants of ``assembly``).
    The phone detector runs only on a text (or decoded copy) where another detector hit: there
    phone hits can still change which others ``resolve`` keeps (its ``MAX_MATCHES`` cut), so the
    hits are exactly ``detect``'s. Where no other detector hit, the full scan's hits are phone
    hits alone, which the filter drops; every other step treats a kind apart from phones
    (``resolve`` compares hits of one kind, and urls with emails; ``_with_decoded`` compares a
    decoded hit with findings of its kind, and only phones with ``_completes``).
    """
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
    if not text or _plain_chat(text):
        return []
    return [f for f in _scan(text, platform_domains, phones=False) if f.kind != "phone"]


def scan_joined(parts: Sequence[str], *, platform_domains: Iterable[str] = DEFAULT_PLATFORM_DOMAINS) -> list[Finding]:
    """``scan_text(" ".join(parts))``: the same findings, the gate's words read from the parts.

    For a conversation's windows, which join the same messages again and again: where the joined
    text is ASCII and ``normalise`` leaves it as it is, the gate is ``message_words`` of the joined
    text, which ``gates.joined_message_words`` builds from each part's remembered reading.
    """
    text = " ".join(parts)
    if len(text) > MAX_TEXT_CHARS or not text.isascii():
        return scan_text(text, platform_domains=platform_domains)
    if not text or _plain_chat(text):
        return []
    return _scan(text, platform_domains, parts=parts)


def _scan(text: str, platform_domains: Iterable[str], phones: bool = True, parts: Sequence[str] | None = None) -> list[Finding]:
    """Normalise, detect, resolve and decode: the whole scan of one (non-empty) message.

    ``phones=False``: phone hits only where another detector hit (``scan_text_without_phones``).
    ``parts``: ASCII texts ``text`` joins with single spaces (``scan_joined``).
    """
    folded = normalise(text)
    # message_words depends on the text alone: where normalise changed nothing, the parts' readings give it.
    gate = joined_message_words(parts) if parts is not None and folded.text == text else message_words(folded.text)
    normalised = languages.rewrite_links(folded, gate)
    if normalised is not folded:
        gate = message_words(normalised.text)
    hits = detect(normalised.text, platform_domains, gate, phones)
    findings = [_to_finding(normalised, hit) for hit in resolve(hits)] if hits else []
    return _with_decoded(text, gate, platform_domains, findings, phones)


def _with_decoded(text: str, gate: MessageWords, platform_domains: Iterable[str], findings: list[Finding],
                  phones: bool = True) -> list[Finding]:
    """Add what decoders read in reshaped stretches (upside down, Morse, backwards...), one per kind."""
    if not decoders.may_apply(text, gate):
        return findings
    kinds = {f.kind for f in findings}
    for decoded, start, end, name in decoders.candidates(text, gate):
        if start >= end:
            continue
        copy = normalise(decoded)
        copy_gate = message_words(copy.text)
        linked = languages.rewrite_links(copy, copy_gate)
        if linked is not copy:
            copy, copy_gate = linked, message_words(linked.text)
        changed = _changed(text, decoded, name)
        for hit in resolve(detect(copy.text, platform_domains, copy_gate, phones)):
            if changed is not None and not _touches(copy, hit, changed):
                continue  # the decoder changed nothing the hit reads ("1920s" -> "19205" next to "telegram")
            inside = [f for f in findings if f.kind == hit.kind and f.start < end and start < f.end and f.decoder is None]
            if inside and (start, end) != (0, len(text)):
                # The plain reading of an encoded stretch ("alpha ... at gmail") gives way to the decoded one.
                findings = [f for f in findings if f not in inside]
                kinds.discard(hit.kind)
            partial = [f for f in findings if _completes(hit, f)]
            if partial:
                findings = [f for f in findings if f not in partial]  # "local:555-0163" gives way to the whole number
                kinds.discard(hit.kind)
            if hit.kind in kinds:
                continue
            kinds.add(hit.kind)
            findings.append(Finding(kind=hit.kind, spans=(Span(start, end),), match=text[start:end], value=hit.value,
                                    score=round(hit.score * 0.95, 3), lang=hit.lang, decoder=name))
    return findings


def _completes(hit: Hit, finding: Finding) -> bool:
    """True when a decoded phone is the whole number of a local one found in the plain text."""
    value = finding.value or ""
    return (finding.kind == hit.kind == "phone" and value.startswith("local:") and hit.value is not None
            and not hit.value.startswith("local:") and hit.value.endswith(value[6:].replace("-", "")))


# Decoders that rewrite characters in place (same length): a hit from their copy must read a changed character.
_IN_PLACE = frozenset({"leet", "leet_digits"})


def _changed(text: str, decoded: str, name: str) -> list[int] | None:
    """Positions an in-place decoder changed, or None when the whole copy is a new reading."""
    if name not in _IN_PLACE or len(decoded) != len(text):
        return None
    return [i for i, (a, b) in enumerate(zip(text, decoded, strict=True)) if a != b]


def _touches(copy: NormalisedText, hit: Hit, changed: list[int]) -> bool:
    """True when one of ``hit``'s spans covers a changed position of the decoded copy."""
    for start, end in hit.spans:
        lo, hi = copy.to_original(start, end)
        if any(lo <= i < hi for i in changed):
            return True
    return False


@lru_cache(maxsize=16)
def _clean_domains(domains: tuple[str, ...]) -> tuple[str, ...]:
    """The configured platform domains in canonical form, once per distinct setting."""
    from pipeline.addresses import normalise_domain  # once per setting; it imports the email package

    return tuple(normalise_domain(d) for d in domains)


# Every word, stem and character that can start any detector. A message with none of them (most
# chat: "would you do 1,390?") is answered without calling a single detector.
# Spelled digits and intent words are common chat words ("still got this one?", "through the
# site"), so they pass only in the combinations their detectors need (``_spelled_digits``,
# ``intents.might_match``): a third of the easy stream used to reach every detector on one of them.
_TRIGGER_WORDS = frozenset().union(
    emails.TRIGGER_WORDS, urls.TRIGGER_WORDS, handles.TRIGGER_WORDS, payments.TRIGGER_WORDS, {"ven"},
) - phones.TRIGGER_WORDS
# App and rail stems ("whats", "venm") admit misspellings; they are matched against the start of
# each word (digit swaps undone). The stems with spaces or symbols ("ven mo", "f&f") need no
# entry here: "ven" is a trigger word and "&" a trigger character.
_STEMS = stems(*(s for s in (*handles.TRIGGER_STEMS, *payments.TRIGGER_STEMS) if s.isalpha()))
_DOT_INSIDE_WORD = re.compile(r"\.(?<=[a-z0-9-]\.)(?=[a-z])")


# Every word any word-level test of ``could_match`` looks for, in one set: nine messages in ten of
# plain chat share none of them, and one test then stands for five (trigger words, spelled digits,
# intent words, other languages' phrase keys and number words).
_ANY_GATE_WORD = frozenset().union(
    _TRIGGER_WORDS, phones.TRIGGER_WORDS, intents.INTENT_WORDS, languages.VOCABULARY.phrase_keys,
    languages.VOCABULARY.latin_number_words,
)


def could_match(text: str, gate: MessageWords) -> bool:
    """True unless the message certainly holds nothing any detector looks for."""
    if gate.digits >= 7:
        return True
    if gate.words.isdisjoint(_ANY_GATE_WORD):
        return _could_match_by_characters(text, gate)
    if not gate.words.isdisjoint(_TRIGGER_WORDS):
        return True
    if _spelled_digits(gate) or intents.might_match(gate.words):
        return True
    return _could_match_by_characters(text, gate)


def _could_match_by_characters(text: str, gate: MessageWords) -> bool:
    """The tests of ``could_match`` that look at characters, stems and other scripts rather than whole words."""
    if "X" in text or "0x" in text or "@" in text or "$" in text or "#" in text or "%" in text or "&" in text:
        return True
    if "." in text and _DOT_INSIDE_WORD.search(gate.lowered):
        return True
    if "u/" in text or "r/" in text:
        return True  # Reddit names
    # A crypto address of any chain is one long token; its checksum is checked whatever surrounds it.
    if gate.any_stem(_STEMS) or languages.might_have_phrases(text, gate):
        return True
    if payments.may_hold_long_token(text) and payments.LONG_TOKEN.search(text) is not None:
        return True
    return languages.might_have_numbers(text, gate)


# Plain chat ("Is this still available?", "great seller, fast shipping"): ASCII letters, spaces and
# , ! ? ' " only, no word any gate looks for. Such a message is answered before normalise,
# message_words, the detector gates and the decoder gate, which together cost about 40 k
# instructions for a four-letter "deal". Each condition below stands for one of those gates (see
# ``_plain_chat``); tests/detection/test_fast_paths.py checks that the whole scan finds nothing
# wherever this says so.
_PLAIN_CLASSES = bytes(
    97 if (65 <= c <= 90 and c != 88) or 97 <= c <= 122 else 32 if c in b" ,!?'\"" else 33 for c in range(256)
)
_PLAIN_STOP_WORDS = frozenset().union(
    _ANY_GATE_WORD, decoders.DECODER_WORDS, languages.VOCABULARY.link_hints, {"dot", "slash"},
)
_LONG_LETTERS = "a" * 25


def _plain_chat(text: str) -> bool:
    """True only when the whole scan of ``text`` certainly finds nothing (and nothing to decode)."""
    if not text.isascii():
        return False
    classes = text.encode("ascii").translate(_PLAIN_CLASSES).decode("ascii")
    # "!": a digit, a symbol or "X" (could_match and may_apply look for them); " a a ": spaced letters
    # (normalise would join them); 25 letters in a row: a crypto address for LONG_TOKEN.
    if "!" in classes or " a a " in classes or _LONG_LETTERS in classes:
        return False
    lowered = text.lower()
    if "ay " in lowered:
        return False  # pig latin's hint in may_apply
    words = frozenset(gates_words(lowered))
    # Every word could_match, may_apply (area codes too) and rewrite_links look for, and "dot" and
    # "slash", which normalise rewrites.
    if not words.isdisjoint(_PLAIN_STOP_WORDS):
        return False
    # could_match's stems: no word may even start like a registered stem.
    return not stem_candidates(words) and not any(literal in lowered for literal in _STEMS.literals)


def _spelled_digits(gate: MessageWords) -> bool:
    """Enough spelled digits to matter: two different ones, or one said three times or next to digits."""
    present = gate.words & phones.TRIGGER_WORDS
    if not present:
        return False
    if len(present) >= 2 or gate.digits >= 3:
        return True
    word = next(iter(present))
    return len(word) > 1 and gate.lowered.count(word) >= 3


def detect(text: str, platform_domains: Iterable[str], gate: MessageWords | None = None, phones: bool = True) -> list[Hit]:
    """Run every detector on normalised ``text``.

    ``phones=False``: the phone detector only when another detector hit (the hits are then the
    same as with ``phones=True``; otherwise they would be phone hits alone, and there are none).
    """
    gate = gate or message_words(text)
    if not could_match(text, gate):
        return []
    platform_domains = _clean_domains(tuple(platform_domains))
    url_hits = find_urls(text, platform_domains, gate)
    others = [
        *find_emails(text, platform_domains, gate),
        *url_hits,
        *urls.social_handles(url_hits),
        *find_handles(text, gate),
        *find_payments(text, gate),
        *find_intents(text, gate),
        *languages.find_phrases(text, gate),
    ]
    if not phones and not others:
        return others
    return [*find_phones(text, gate), *others]


def resolve(hits: list[Hit]) -> list[Hit]:
    """Drop hits covered by a stronger identifier and duplicates of one kind, in text order."""
    if len(hits) < 2:
        return hits
    hits = sorted(hits, key=lambda h: h.start)[:MAX_MATCHES]
    emails = [h for h in hits if h.kind == "email"]
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (-h.score, h.start)):
        if hit.kind == "url" and any(_overlaps(hit, e) for e in emails):
            continue
        if any(k.kind == hit.kind and _overlaps(hit, k) for k in kept):
            continue
        kept.append(hit)
    return sorted(kept, key=lambda h: (h.start, h.kind))


def _overlaps(a: Hit, b: Hit) -> bool:
    """True when any span of ``a`` overlaps any span of ``b``."""
    return any(s1 < e2 and s2 < e1 for s1, e1 in a.spans for s2, e2 in b.spans)


def _to_finding(normalised: NormalisedText, hit: Hit) -> Finding:
    """Map a hit's spans to the original text and build the public Finding."""
    spans = tuple(Span(*normalised.to_original(s, e)) for s, e in hit.spans)
    match = " ".join(normalised.original[s.start : s.end] for s in spans)
    return Finding(kind=hit.kind, spans=spans, match=match, value=hit.value, score=hit.score, lang=hit.lang)
