"""Email addresses: plain, "at"/"dot" spelled, provider-only ("kyle at icloud") and labelled.

Runs on the linked view from ``normalise`` where "(at)", "[dot]", " dot " and spaced "@" have
already become symbols, so the patterns here stay simple.
"""

from __future__ import annotations

import re

from pipeline.detection.gates import MessageWords, message_words
from pipeline.detection.hits import Hit, bounded
from pipeline.detection.suffixes import registrable_domain
from pipeline.detection.urls import REFERENCE_DOMAINS

MAIL_PROVIDERS = (
    "gmail", "googlemail", "yahoo", "ymail", "hotmail", "outlook", "icloud", "aol", "proton",
    "protonmail", "fastmail", "gmx", "zoho", "yandex", "tutanota", "tuta", "hushmail", "comcast",
    "sbcglobal", "bellsouth", "earthlink", "rocketmail", "att", "verizon", "mail",
)
_PROVIDER_ALT = "|".join(sorted(MAIL_PROVIDERS, key=len, reverse=True))

# Words that, in front of " at <provider>", are prose rather than a mailbox name.
_STOPWORDS = frozenset(
    """i me my we us you your he him she her it they them this that these those one is am are was
    were be been being do does did work works worked working job look looking saw seen check checked
    stuff store sale deal deals offer email mail login account acct inbox spam folder the a an and or
    to of in on for with from by up out over here there now today tonight later sent send sending
    got get getting receipt receipts notification notifications message messages filtered full down
    nothing something everything anything not no yes ok okay thanks thank please address cert certs verify
    verified lookup listed sold bought price prices grade graded it's its list lists inventory photos pics pictures
    catalog catalogue items collection more details info website site page shop store deals sale sales
    """.split()
)

# Local parts that describe a mailbox rather than spell it ("firstname.lastname at gmail").
_DESCRIBED_LOCAL = frozenset("name firstname lastname surname fullname initials".split())

_STANDARD = re.compile(
    r"(?<![A-Za-z0-9._%+-])(?P<local>[A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@"
    r"(?P<domain>[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63}){0,5})"
)
_AT_WORD = re.compile(
    r"(?<![\w.+-])(?P<local>[A-Za-z0-9][\w.+-]{0,63}(?:\s*\+\s*[A-Za-z0-9][\w.-]{0,30})?)"
    r"\s+(?i:at)\s+(?P<domain>[A-Za-z0-9][\w-]{1,62}(?:\.[A-Za-z0-9-]{1,63}){0,4})(?![\w@])"
)
# What "name at domain" needs after the "at" (a dotted domain or a mail provider): searched first,
# because "at" is common ("at checkout", "at 5pm") and _AT_WORD tries every word as a mailbox name.
_AT_HINT = re.compile(
    r"\s(?i:at)\s+(?:[A-Za-z0-9][\w-]{0,61}\.[A-Za-z0-9-]|(?i:" + _PROVIDER_ALT + r")(?![\w@]))"
)
_LABELLED = re.compile(
    r"\b(?P<provider>(?i:" + _PROVIDER_ALT + r"))(?:\s+(?i:address|addy|account|acct|id|handle|username|user))?"
    r"\s*(?P<sep>(?i:is)|=>|->|[:=\-])\s*(?P<user>[A-Za-z0-9][\w.+-]{2,63})(?P<after>[^\s\w]|\s+\W|\s*$)?"
)

# The user first, then the provider: "jsmith1971, the gmail one", "coinguy_88 - google mail".
_USER_THEN_PROVIDER = re.compile(
    r"(?<![\w.@+-])(?P<user>[A-Za-z][\w.+-]{2,63})\s*(?:[,:\-\u2013\u2014]|\bis\b|\bon\b|\bat\b)\s*"
    r"(?:(?i:the|my|on|at)\s+)?(?P<provider>(?i:google\s?mail|gmail|yahoo|hotmail|outlook|icloud|proton(?:mail)?|aol))"
    r"\s+(?i:one|address|addy|account|acct|email|e-mail)\b"
)
_PROVIDER_WORDS = frozenset(MAIL_PROVIDERS)
TRIGGER_WORDS = _PROVIDER_WORDS | {"at"}


def find_emails(text: str, platform_domains: tuple[str, ...], gate: MessageWords | None = None) -> list[Hit]:
    """Return email hits in the normalised ``text``, skipping the platform's own addresses."""
    gate = gate or message_words(text)
    hits: list[Hit] = []
    if "@" in text:
        hits.extend(_standard(text, platform_domains))
    if "at" in gate.words and _AT_HINT.search(text):
        hits.extend(_spelled(text, platform_domains))
    if gate.any_word(_PROVIDER_WORDS):
        hits.extend(_labelled(text))
        hits.extend(_user_then_provider(text))
    return hits


def _standard(text: str, platform_domains: tuple[str, ...]) -> list[Hit]:
    """Plain ``local@domain`` addresses (spaces and symbols already folded)."""
    hits = []
    for match in bounded(_STANDARD.finditer(text)):
        local, domain = match.group("local").rstrip("."), match.group("domain").rstrip(".-")
        value = _address(local, domain, platform_domains)
        if value:
            end = match.start("domain") + len(domain)
            hits.append(Hit("email", ((match.start(), end),), value, 0.98))
    return hits


def _spelled(text: str, platform_domains: tuple[str, ...]) -> list[Hit]:
    """``name at provider`` and ``name at domain.tld`` forms."""
    hits = []
    for match in bounded(_AT_WORD.finditer(text)):
        local, domain = match.group("local").rstrip("."), match.group("domain").rstrip(".-")
        if local.lower() in _STOPWORDS or local.isdigit():
            continue
        if domain.lower().startswith("www."):
            # "more stock at www.example.net" names a website; mailboxes are not on www hosts.
            continue
        value = _address(local.replace(" ", ""), domain, platform_domains)
        if value and local.lower() in _DESCRIBED_LOCAL:
            # "<first>.<last> at <provider>" describes a mailbox pattern without writing one.
            value = domain.lower() + ":described"
        if value:
            hits.append(Hit("email", ((match.start(), match.start("domain") + len(domain)),), value, 0.9))
    return hits


def _labelled(text: str) -> list[Hit]:
    """``gmail: doug.ellery`` and ``my aol is mgrant1958``: a provider named, then the user."""
    hits = []
    for match in bounded(_LABELLED.finditer(text)):
        user = match.group("user").rstrip(".")
        if user.lower() in _STOPWORDS or not _username_shaped(user, match.group("after")):
            continue
        provider = match.group("provider").lower()
        if provider == "mail" and "@" not in user:
            continue
        value = f"{user.lower()}@{provider}"
        hits.append(Hit("email", ((match.start(), match.start("user") + len(user)),), value, 0.85))
    return hits


def _user_then_provider(text: str) -> list[Hit]:
    """``jsmith1971 - the google mail one``: a username-shaped word, then the provider named."""
    hits = []
    for match in bounded(_USER_THEN_PROVIDER.finditer(text)):
        user = match.group("user").rstrip(".")
        if user.lower() in _STOPWORDS or not any(c.isdigit() or c in "._+" for c in user):
            continue
        provider = "gmail" if "google" in match.group("provider").lower() else match.group("provider").lower()
        hits.append(Hit("email", ((match.start(), match.end("provider")),), f"{user.lower()}@{provider}", 0.8))
    return hits


def _username_shaped(user: str, after: str | None) -> bool:
    """A mailbox name has a digit or symbol, or ends the clause (not the start of a sentence)."""
    if any(c.isdigit() or c in "._-+" for c in user):
        return True
    return after is not None and len(user) >= 4


def _address(local: str, domain: str, platform_domains: tuple[str, ...]) -> str | None:
    """Return the lower-case address if the domain is real (or a known provider) and not ours."""
    domain = domain.lower()
    if "." not in domain:
        return f"{local.lower()}@{domain}" if domain in MAIL_PROVIDERS and domain != "mail" else None
    registrable = registrable_domain(domain)
    if registrable is None or registrable in platform_domains or registrable in REFERENCE_DOMAINS:
        return None
    return f"{local.lower()}@{domain}"
