"""Links and bare domains off the platform, judged against the public suffix list.

A bare "word.tld" without scheme, "www." or path is only taken when the TLD is one people type
for shops and link pages; otherwise a missing space after a full stop ("coin.It arrived")
would read as a domain.
"""

from __future__ import annotations

import re

from pipeline.detection.gates import MessageWords, message_words
from pipeline.detection.hits import Hit, bounded
from pipeline.detection.suffixes import registrable_domain

_URL = re.compile(
    r"(?<![\w@.\-/])(?P<scheme>(?i:https?|hxxps?)://)?(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})\.){1,6}"
    r"[A-Za-z]{2,24})(?![\w-])(?P<path>(?::\d{2,5})?/[^\s<>\"']{0,300})?"
)
_SHORTENER = re.compile(
    r"\b(?P<name>(?i:bit\s?ly|tinyurl|tiny\s?url|linktr\s?ee|linktree|cutt\s?ly|rb\s?gy|goo\s?gl|"
    r"shorturl|beacons\s?ai|carrd))\b(?P<path>\s?/\s?[\w\-]{2,40})?"
)
# Grading services, mints, carriers and spot-price sites: sending a buyer there to verify a cert or
# track a parcel is trade talk, not a channel off the platform.
REFERENCE_DOMAINS = frozenset(
    """pcgs.com ngccoin.com anacs.com cacgrading.com icgcoin.com pmgnotes.com usmint.gov mint.ca perthmint.com
    royalmint.com usps.com ups.com fedex.com dhl.com kitco.com""".split()
)
SOCIAL_DOMAINS = {
    "facebook.com": "facebook", "fb.com": "facebook", "fb.me": "messenger", "m.me": "messenger",
    "instagram.com": "instagram", "t.me": "telegram", "telegram.me": "telegram", "wa.me": "whatsapp",
    "whatsapp.com": "whatsapp", "twitter.com": "twitter", "x.com": "x", "tiktok.com": "tiktok",
    "discord.gg": "discord", "discord.com": "discord", "snapchat.com": "snapchat", "signal.me": "signal",
    "youtube.com": "youtube", "reddit.com": "reddit", "linktr.ee": "linktree",
}
_LINK_CUE = re.compile(
    r"\b(?:visit|see|check(?:\s+out)?|site|shop|store|website|page|link|go\s+to|find\s+me\s+at)\b\s*(?:is\s+|at\s+|:\s*)?$",
    re.IGNORECASE,
)
# Found from the dot (a literal the engine can scan for), with the neighbours checked around it.
_DOT_BETWEEN = re.compile(r"\.(?<=[A-Za-z0-9-]\.)(?=[A-Za-z])")
_SHORTENER_WORDS = frozenset(
    "bitly ly tinyurl tiny linktree linktr ee cuttly cutt rb gy goo gl shorturl beacons carrd".split()
)
TRIGGER_WORDS = _SHORTENER_WORDS
COMMON_BARE_TLDS = frozenset(
    """com net org co io ly gl ee gg shop store biz info xyz site online app link page tv cc uk ca
    au de nz ie us club live website web space tech one top vip today market coins gold silver ai
    """.split()
)


def find_urls(text: str, platform_domains: tuple[str, ...], gate: MessageWords | None = None) -> list[Hit]:
    """Return URL hits in normalised ``text`` that are not the platform's own domains."""
    gate = gate or message_words(text)
    hits = []
    if _DOT_BETWEEN.search(text):
        hits = [hit for match in bounded(_URL.finditer(text)) if (hit := _judge(match, platform_domains))]
    if gate.any_word(_SHORTENER_WORDS):
        hits.extend(_shorteners(text, hits))
    return hits


def _judge(match: re.Match[str], platform_domains: tuple[str, ...]) -> Hit | None:
    """Accept a domain-shaped match when its suffix is real and it is not the platform's."""
    host = match.group("host").lower()
    registrable = registrable_domain(host)
    if registrable is None or registrable in platform_domains or registrable in REFERENCE_DOMAINS:
        return None
    explicit = bool(match.group("scheme") or host.startswith("www.") or match.group("path"))
    if not explicit and not _plausible_bare(match.group("host")) and not _introduced(match):
        return None
    score = 0.97 if explicit else 0.9
    return Hit("url", ((match.start(), match.end()),), registrable, score)


def social_handles(url_hits: list[Hit]) -> list[Hit]:
    """A link to a messaging or social site also names that channel ("facebook.com/shop" is a handle)."""
    return [
        Hit("handle", hit.spans, SOCIAL_DOMAINS[hit.value], hit.score)
        for hit in url_hits
        if hit.kind == "url" and hit.value in SOCIAL_DOMAINS
    ]


def _introduced(match: re.Match[str]) -> bool:
    """Any real suffix counts when the words before present a link ("visit coinbarn.me")."""
    before = match.string[max(0, match.start() - 24) : match.start()]
    first = match.group("host").split(".", 1)[0]
    return len(first) >= 3 and _LINK_CUE.search(before) is not None


def _plausible_bare(host: str) -> bool:
    """A bare domain needs a common TLD typed in lower case (or all in capitals) and a real first label."""
    tld = host.rsplit(".", 1)[-1]
    first = host.split(".", 1)[0]
    cased = tld.islower() or host.isupper()
    return cased and tld.lower() in COMMON_BARE_TLDS and not first.isdigit() and len(first) > 1


def _shorteners(text: str, found: list[Hit]) -> list[Hit]:
    """Link shorteners and link pages written without their dot ("bit ly/x", "linktree")."""
    hits = []
    for match in bounded(_SHORTENER.finditer(text)):
        if any(h.start <= match.start() < h.end for h in found):
            continue
        name = re.sub(r"\s", "", match.group("name").lower())
        hits.append(Hit("url", ((match.start(), match.end()),), name, 0.9))
    return hits
