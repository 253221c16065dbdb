"""Scan one message: normalise, run every detector, resolve overlaps, map spans back."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.detection.emails import find_emails
from pipeline.detection.findings import Finding, Span
from pipeline.detection.handles import find_handles
from pipeline.detection.hits import Hit
from pipeline.detection.intents import find_intents
from pipeline.detection.normalise import NormalisedText, normalise
from pipeline.detection.payments import find_payments
from pipeline.detection.phones import find_phones
from pipeline.detection.urls import find_urls

DEFAULT_PLATFORM_DOMAINS: tuple[str, ...] = ("peermetals.com",)
MAX_TEXT_CHARS = 1_048_576

# Most messages are short and clean ("would you do 1,390?"). A message with no digit pair, no
# '@', '$' or '#', no dot inside a word and none of these word stems cannot produce a finding,
# so the detectors are skipped entirely. Every detector's trigger words must appear here.
_WORD_GATE = re.compile(
    r"[@$#%&]|\d\D{0,3}\d|\w\s*[.(\[]\s*\w|(?i:zero|oh\b|one|two|three|four|five|six|seven|eight|nine|"
    r"wh?[a4@]t|t[e3]l|sn[a4@]p|d[i1]sc|chat|kik|v[i1]b|sk[yi]p|line|threema|messag|facetime|group|google|"
    r"hangout|[i1]nst|ig\b|fb|face|tw[i1]t|t[i1]k|reddit|s[i1]gn|\bx\b|z[e3]l|v[e3]nm|c[a4@]sh|p[a4@]y|pp\b|"
    r"f\s?n\s?f|friends|apple|revolut|skrill|payoneer|chime|wise|gram|union|wu\b|order|che(?:ck|que)|gift|"
    r"wire|sepa|swift|bank|deposit|ach\b|transfer|interac|routing|account|iban|btc|bitcoin|eth|usd|tether|"
    r"ltc|lite|doge|xrp|solana|monero|xmr|tron|trx|crypto|stable|fee|percent|neither|direct|text|txt|call|"
    r"ring|phone|mail|sms|rather|prefer|talk|cell|digit|mobile|your|\bur\b|\byr\b|my|our|off|outside|"
    r"offline|elsewhere|private|leave|without|bypass|circumvent|skip|hit|hmu|reach|contact|touch|dot|"
    r"slash|tiny|bit\s?ly|linktr|cutt|rb\s?gy|goo\s?gl|shorturl|beacons|carrd|hold of|speak|discuss|keep|"
    r"cut|dm|pm|give|gimme|send|shoot|drop|share|pass|tell|need|want|get|what|do you have|continue|move|"
    r"take|bring|carry|deal|handle|trade|sell|buy|transact|settle|sort|finish|go)",
)


def scan_text(text: str, *, platform_domains: Iterable[str] = DEFAULT_PLATFORM_DOMAINS) -> list[Finding]:
    """Return the off-platform contact and payment findings in one message, spans in ``text``."""
    text = text[:MAX_TEXT_CHARS]
    if not text or (text.isascii() and not _WORD_GATE.search(text)):
        return []
    domains = tuple(d.lower().strip(".") for d in platform_domains)
    normalised = normalise(text)
    hits = detect(normalised.text, domains)
    return [_to_finding(normalised, hit) for hit in resolve(hits)]


def detect(text: str, platform_domains: tuple[str, ...]) -> list[Hit]:
    """Run every detector on normalised ``text``."""
    return [
        *find_phones(text),
        *find_emails(text, platform_domains),
        *find_urls(text, platform_domains),
        *find_handles(text),
        *find_payments(text),
        *find_intents(text),
    ]


def resolve(hits: list[Hit]) -> list[Hit]:
    """Drop hits covered by a stronger identifier and duplicates of one kind, in text order."""
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
    return Finding(kind=hit.kind, spans=spans, match=match, value=hit.value, score=hit.score)
