"""Payment outside the checkout: named rails, $cashtags, checksummed bank and crypto identifiers.

Rails that are only payment words ("Zelle", "Venmo") are reported unless refused or warned about;
rails that are also ordinary words or collectibles ("wire", "Western Union", "Bitcoin") need a
payment verb in the same clause and must not be describing an item ("a Western Union sign").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.detection.checksums import aba_valid, crypto_address_chain, iban_valid, solana_key
from pipeline.detection.context import (
    asks_what_checkout_takes,
    clause_end,
    clause_start,
    describes_item,
    is_refused,
    platform_talk,
    sentence_of,
    through_checkout,
)
from pipeline.detection.gates import MessageWords, message_words, stems
from pipeline.detection.hits import Hit, bounded

DIRECT, CONTEXTUAL = "direct", "contextual"


@dataclass(frozen=True, slots=True)
class PaymentRail:
    """A way to pay: canonical name, spellings, and whether it needs payment words around it."""

    name: str
    pattern: str
    needs_context: bool


RAILS = (
    PaymentRail("zelle", r"z[e3]l\s?l?[e3]", False),
    PaymentRail("venmo", r"v[e3]n[\s._-]?m[o0]", False),
    PaymentRail("cashapp", r"c[a4@]sh[\s._-]?[a4@]pp?", False),
    PaymentRail("paypal", r"p[a4@]y[\s._-]?p[a4@]l", False),
    PaymentRail("paypal", r"f\s?&\s?f|fnf|f\s?n\s?f|friends\s?(?:and|&|n)\s?family", False),
    PaymentRail("paypal", r"pp", True),
    PaymentRail("paypal", r"g\s?&\s?s|goods\s?(?:and|&|n)\s?services", False),
    PaymentRail("applepay", r"apple\s?(?:pay|cash)", False),
    PaymentRail("googlepay", r"google\s?pay|g\s?pay", False),
    PaymentRail("revolut", r"revolut", False),
    # Brazil's instant payments; "pix" alone is also slang for pictures, so only as a way to pay.
    PaymentRail("pix", r"pix(?=\s*(?:key|chave|pra|para)\b)|(?:(?<=via )|(?<=por )|(?<=pelo )|(?<=no )|(?<=by ))pix\b", False),
    PaymentRail("skrill", r"skrill|payoneer|chime", True),
    PaymentRail("wise", r"wise", True),
    PaymentRail("moneygram", r"money\s?gram", False),
    PaymentRail("westernunion", r"western\s?union|wu", True),
    PaymentRail("money_order", r"money\s?orders?|cashier'?s?\s?che(?:ck|que)s?|postal\s?orders?", False),
    PaymentRail("check", r"personal\s?che(?:ck|que)s?|check\s+in\s+the\s+mail", False),
    PaymentRail("mailed_cash", r"cash\s+in\s+(?:the|an)\s+(?:mail|envelope)|mail(?:ed)?\s+(?:you\s+|me\s+)?cash", False),
    PaymentRail("gift_card", r"(?:amazon|steam|itunes|apple|google\s?play|visa|ebay)?\s?gift\s?cards?|"
                r"(?:amazon|steam|itunes|google\s?play|razer|vanilla)\s?(?:cards?|codes?|vouchers?)", True),
    PaymentRail("wire", r"wire\s?transfers?|bank\s?wires?|swift\s?(?:transfers?|codes?)|sort\s?codes?|sepa(?:\s?transfers?)?", False),
    PaymentRail("wire", r"wires?|wired|wiring", True),
    PaymentRail("bank_transfer", r"bank\s?transfers?|bank\s?deposits?|direct\s?deposits?|ach|e-?transfer|"
                r"interac|routing\s?(?:number|no|#)|account\s?(?:number|no|#)|iban|bank\s?details", False),
    PaymentRail("crypto", r"bitcoin|btc|ethereum|eth|ether|usdt|usdc|tether|litecoin|ltc|dogecoin|doge|"
                r"xrp|solana|monero|xmr|tron|trx|crypto|cryptocurrency|stablecoins?", True),
)
_RAIL_PATTERN = re.compile(
    r"(?<![A-Za-z0-9])(?:" + "|".join(f"(?P<r{i}>{r.pattern})" for i, r in enumerate(RAILS)) + r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_PAY_WORDS = re.compile(
    r"\b(?:pay|paid|paying|payment|payments|send|sent|sending|accept|accepts|take|takes|taking|do|use|via|"
    r"thru|through|with|by|prefer|works?|ok|okay|only|instead|wallet|address|transfer|to|me|you|fine|"
    r"accepted|accepting|it|account|funds|money|"
    r"can|could|if|or)\b|\?",
    re.IGNORECASE,
)
# Words after a rail name that make it an object for sale or a topic, not a way to pay.
_ITEM_AFTER = re.compile(
    r"^[\s-]*(?:\w+\s+){0,2}?(?:themed|sign|signs|poster|token|tokens|medal|coin|coins|round|rounds|bar|bars|"
    r"memorabilia|collectible|design|edition|version|one|price|prices|chart|miner|mining|rim|rims|"
    r"variety|mesh|brush|stand|display|holder|sticker|ad|advert|tin|notes?|ornament|art|pattern|telegrams?|"
    r"receipts?|envelopes?|stamps?|forms?|ledgers?|blanks?)\b",
    re.IGNORECASE,
)
_CHECKOUT_CLAUSE = re.compile(
    r"\b(?:at|in|through|thru|via|on|with)\s+(?:the\s+)?(?:checkout|site|platform|peer\s?metals)\b", re.IGNORECASE
)
_CASHTAG = re.compile(r"(?<![\w$])\$(?P<tag>[A-Za-z][A-Za-z0-9_\-]{1,19})(?![\w])")
# Both patterns start with one character class (the boundary is checked behind it) so the regex
# engine skips from candidate to candidate; same matches as "\b[A-Z]{2}\d{2}..." and
# "\b(?:0x...|bc1...|[13LMTD]...)\b", about a tenth of the work on digit-heavy messages.
_IBAN = re.compile(r"[A-Z](?<![A-Za-z0-9_][A-Z])[A-Z]\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
# The shape of an address of a chain we know, used only for addresses whose checksum fails (a
# mistyped address still asks to be paid in crypto when the message names crypto).
_CRYPTO_ADDRESS = re.compile(
    r"0x[0-9A-Fa-f]{40}|(?i:bc1|ltc1)[0-9A-Za-z]{20,70}|[13LMTDr9A][1-9A-HJ-NP-Za-km-z]{24,39}|[48][1-9A-HJ-NP-Za-km-z]{94,105}"
)
# Every alphanumeric token long enough to be an address. Checksums, not nearby words, decide:
# a message with no crypto word still gets its address checked. The class-first pattern lets the
# engine skip from letter run to letter run; one search costs about a microsecond per 100 characters.
LONG_TOKEN = re.compile(r"[0-9A-Za-z](?<![0-9A-Za-z_][0-9A-Za-z])[0-9A-Za-z]{24,105}(?![0-9A-Za-z_])")
# ASCII letters and digits become "a", everything else a space: a text whose translation holds no
# 25 "a" in a row has no run of 25 letters and digits and needs no LONG_TOKEN search (the pattern
# is tried at every letter; on a long description that cost more than the rest of the payment
# checks). One substring search answers it, without splitting the text into words.
_ASCII_ALNUM = bytes(97 if 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 else 32 for c in range(256))
_LONG_RUN = "a" * 25


def may_hold_long_token(text: str) -> bool:
    """False only when ``LONG_TOKEN`` certainly finds nothing in ``text`` (no run of 25 letters and digits)."""
    if len(text) < 25:
        return False
    if not text.isascii():
        return True
    return _LONG_RUN in text.encode("ascii").translate(_ASCII_ALNUM).decode("ascii")
_CRYPTO_CUES = frozenset(
    ("eth ethereum btc bitcoin usdt usdc tether erc trc wallet addy crypto metamask coinbase ltc litecoin doge trx tron sol "
     "solana phantom xrp ripple monero xmr").split()
)
# "<rail> to my <relative>": a transfer rail followed by its recipient is a way to pay.
_RECIPIENT_AFTER = re.compile(r"\s+(?:it\s+|the\s+money\s+|funds\s+)?to\s+(?:me|my|him|her|them|our)\b", re.IGNORECASE)
_ROUTING = re.compile(r"\b(?:routing|aba|rtn)\b\D{0,20}(?P<digits>\d{9})\b", re.IGNORECASE)
_FEE_AVOIDANCE = re.compile(
    r"\b(?:skip|skipping|avoid|avoiding|save|saving|dodge|dodging|bypass|cut\s+out|get\s+around|ditch|beat|lose)\s+"
    r"(?:on\s+|out\s+|us\s+|you\s+|both\s+|both\s+of\s+us\s+)?(?:the\s+|those\s+|all\s+the\s+|paying\s+(?:the\s+)?|a\s+|any\s+|your\s+|their\s+)?"
    r"(?:platform\s+|site\s+|site's\s+|peermetals\s+|checkout\s+|seller\s+|selling\s+|transaction\s+|processing\s+|"
    r"service\s+|extra\s+|stupid\s+|\w+\s+)?(?:fee|fees|commission|cut)\b"
    r"|\b(?:skip|avoid|save|dodge|bypass|cut\s+out|ditch|lose)\s+(?:us\s+|you\s+|both\s+|both\s+of\s+us\s+)?"
    r"(?:the|those|that|their|your|its|peermetals'?s?)\s+(?:\w+\s+)?\d{1,2}(?:\.\d)?\s?(?:%|percent\b)"
    r"|\bneither\s+of\s+us\s+(?:eats|pays|gets\s+hit\s+with|loses)\b"
    r"|\b(?:no|zero|without)\s+(?:the\s+)?(?:platform|site|checkout|peermetals|middleman)\s+fees?\b"
    r"|\bfee[\s-]?free\b|\bpay\s+(?:me\s+|you\s+)?direct(?:ly)?\b(?!\s+(?:through|thru|via|on|in|with)\s+(?:the\s+)?(?:site|checkout|platform|app|here))",
    re.IGNORECASE,
)


# The rail pattern runs only when a message has one of these words, or a word starting with one of
# the distinctive prefixes (which also catch misspellings such as "venmoo" or "zelly").
_RAIL_WORDS = frozenset(
    """zelle zele zell venmo cash cashapp paypal paypl paypall pal pp fnf ff apple applepay google gpay pay
    revolut skrill payoneer chime wise money moneygram western wu cashiers cashier personal postal gift wire
    wires wired wiring bank sepa swift transfer transfers deposit ach etransfer interac routing account iban
    bitcoin btc eth ethereum ether usdt usdc tether litecoin ltc doge dogecoin xrp solana monero xmr tron trx
    friends crypto goods sort pix amazon steam itunes razer vanilla""".split()
)
TRIGGER_STEMS = (
    "zel", "venm", "ven mo", "ven-mo", "ven.mo", "ven_mo", "cash", "payp", "revol", "skril", "crypt", "bitc", "stabl", "f&f", "f & f", "g&s", "g & s",
)
_RAIL_STEMS = stems(*TRIGGER_STEMS)
_FEE_WORDS = frozenset({"fee", "fees", "commission", "cut", "percent", "neither", "direct", "directly"})
TRIGGER_WORDS = _RAIL_WORDS | _FEE_WORDS


def find_payments(text: str, gate: MessageWords | None = None) -> list[Hit]:
    """Return payment hits in normalised ``text``."""
    gate = gate or message_words(text)
    hits: list[Hit] = []
    if (gate.any_word(_RAIL_WORDS) or gate.any_stem(_RAIL_STEMS)
            or ("check" in gate.words and "mail" in gate.words)):
        for match in bounded(_RAIL_PATTERN.finditer(text)):
            hit = _gift_card_code(text, match) or _judge_rail(text, match)
            if hit is not None:
                hits.append(hit)
    if "$" in text:
        hits.extend(_cashtags(text))
    if gate.digits >= 9 or "0x" in text or may_hold_long_token(text) and LONG_TOKEN.search(text):
        hits.extend(_identifiers(text, gate))
    if gate.any_word(_FEE_WORDS) or "%" in text:
        hits.extend(_fee_avoidance(text))
    if "cash" in gate.words:
        hits.extend(_cash_meetups(text))
    return hits


# Cash handed over in person: "cash" and a meeting or a place to meet in the same sentence.
_CASH = re.compile(r"\bcash\b(?![\s-]*(?:app|value|flow|back|register|out)\b)", re.IGNORECASE)
_MEETING = re.compile(
    r"\b(?:meet|meeting|meetup|meet-up|in\s+person|face\s+to\s+face|hand\s+(?:it\s+)?over|come\s+by|swing\s+by|stop\s+by|"
    r"pick\s?up|pick\s+it\s+up|parking\s+(?:lot|garage)|lobby|gas\s+station|coffee\s+shop|starbucks|mall|my\s+place|your\s+place|"
    r"walmart|costco|target|home\s+depot|police\s+station|bank\s+(?:lobby|branch)|downtown|tomorrow|tonight|saturday|sunday|"
    r"weekend|at\s+the\s+\w+)\b",
    re.IGNORECASE,
)
_TOLD_OF = re.compile(r"\b(?:paid|bought|sold|got|used\s+to|years?\s+ago|back\s+in|in\s+(?:19|20)\d\d)\b", re.IGNORECASE)


def _cash_meetups(text: str) -> list[Hit]:
    """Paying cash at a meeting proposes settling outside the checkout; a story about one does not."""
    for match in bounded(_CASH.finditer(text)):
        sentence = sentence_of(text, match.start(), match.end())
        if _MEETING.search(sentence) is None or _TOLD_OF.search(sentence) or is_refused(text, match.start(), match.end()):
            continue
        return [Hit("payment", ((match.start(), match.end()),), "cash_meetup", 0.82)]
    return []


def _judge_rail(text: str, match: re.Match[str]) -> Hit | None:
    """Report a rail mention unless refused, or (for ambiguous names) lacking payment words."""
    rail = RAILS[int(match.lastgroup[1:])]  # type: ignore[index]
    start, end = match.start(), match.end()
    if is_refused(text, start, end) or _ITEM_AFTER.match(text[end : end + 30]) or describes_item(text, start, end):
        return None
    clause = text[clause_start(text, start) : clause_end(text, end)]
    if (_CHECKOUT_CLAUSE.search(clause) or through_checkout(clause) or platform_talk(text, start, end)
            or asks_what_checkout_takes(text, start)):
        return None  # "can I use Apple Pay at checkout?" asks about the platform's own payment.
    if rail.needs_context and not _payment_context(text, start, end, rail):
        return None
    return Hit("payment", ((start, end),), rail.name, 0.8 if rail.needs_context else 0.92)


# A gift card's redemption code: 10-20 capitals and digits, both present, optionally in dashed groups.
_CARD_CODE = re.compile(r"(?<![\w-])(?=[A-Z0-9-]*[0-9])(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{4,}(?:-[A-Z0-9]{3,}){0,4}(?![\w-])")


def _gift_card_code(text: str, match: re.Match[str]) -> Hit | None:
    """A gift card mentioned with its code in the same message is a payment, whatever the verbs."""
    if RAILS[int(match.lastgroup[1:])].name != "gift_card" or is_refused(text, match.start(), match.end()):  # type: ignore[index]
        return None
    for code in _CARD_CODE.finditer(text):
        if 10 <= len(code.group().replace("-", "")) <= 20 and not code.group().startswith("1Z"):
            return Hit("payment", ((code.start(), code.end()),), "gift_card", 0.9)
    return None


def _payment_context(text: str, start: int, end: int, rail: PaymentRail) -> bool:
    """True when the clause around an ambiguous rail talks about paying."""
    clause = text[clause_start(text, start) : clause_end(text, end)]
    words = _PAY_WORDS.findall(clause)
    if _RECIPIENT_AFTER.match(text, end):
        return True
    if rail.name in ("wire", "wise", "westernunion", "gift_card", "skrill"):
        # These need a real verb: a wire-rim variety or a wise choice must stay clean.
        return any(w.lower() in ("pay", "paid", "paying", "payment", "send", "sent", "sending", "accept", "take",
                                 "takes", "taking", "do", "use", "via", "with", "by", "prefer", "only", "works",
                                 "it", "account", "bank", "funds", "money", "accepted", "accepting",
                                 "work", "transfer", "me", "you", "?") for w in words)
    return bool(words)


def _cashtags(text: str) -> list[Hit]:
    """Cash App $cashtags; short all-capital tags are left alone as ticker symbols ($SLV)."""
    if "$" not in text:
        return []
    hits = []
    for match in bounded(_CASHTAG.finditer(text)):
        tag = match.group("tag")
        if tag.isupper() and len(tag) <= 5 or is_refused(text, match.start(), match.end()):
            continue
        hits.append(Hit("payment", ((match.start(), match.end()),), "cashapp:$" + tag.lower(), 0.9))
    return hits


def _identifiers(text: str, gate: MessageWords) -> list[Hit]:
    """IBANs (mod 97), ABA routing numbers and crypto addresses, each only with a valid checksum."""
    hits: list[Hit] = []
    for match in bounded(_IBAN.finditer(text)):
        if iban_valid(match.group()):
            hits.append(Hit("payment", ((match.start(), match.end()),), "iban", 0.97))
    long_tokens = may_hold_long_token(text)
    cued = not gate.words.isdisjoint(_CRYPTO_CUES)
    if cued and long_tokens:
        # The cue must be a word of the message, not letters inside an address ("...dAo46Tron").
        cued = not message_words(LONG_TOKEN.sub(" ", text)).words.isdisjoint(_CRYPTO_CUES)
    for match in bounded(LONG_TOKEN.finditer(text)) if long_tokens else ():
        hit = _crypto_hit(match.group(), match.start(), match.end(), cued)
        if hit:
            hits.append(hit)
    if gate.words.isdisjoint(("routing", "aba", "rtn")):
        return hits
    for match in bounded(_ROUTING.finditer(text)):
        if aba_valid(match.group("digits")):
            hits.append(Hit("payment", ((match.start("digits"), match.end("digits")),), "aba_routing", 0.95))
    return hits


def _crypto_hit(token: str, start: int, end: int, cued: bool) -> Hit | None:
    """Name the chain of an address-shaped token by its checksum (read either way round)."""
    span = ((start, end),)
    chain = crypto_address_chain(token)
    if chain:
        return Hit("payment", span, chain, 0.97)
    reversed_chain = crypto_address_chain(token[::-1])
    if reversed_chain:
        return Hit("payment", span, reversed_chain + ":reversed", 0.95)
    mixed = not token.isdigit() and not token.isalpha() and not token.islower() and not token.isupper()
    if (cued or mixed) and solana_key(token):
        return Hit("payment", span, "sol", 0.9 if cued else 0.85)
    if cued and _CRYPTO_ADDRESS.fullmatch(token):
        # A mistyped (or made-up) address still asks to be paid in crypto when the message says so.
        return Hit("payment", span, "crypto_address", 0.8)
    return None


def _fee_avoidance(text: str) -> list[Hit]:
    """Proposals to dodge the platform's fee (skipping, saving or splitting the fee or its percentage)."""
    hits = []
    for match in bounded(_FEE_AVOIDANCE.finditer(text)):
        if not is_refused(text, match.start(), match.end()):
            hits.append(Hit("payment", ((match.start(), match.end()),), "fee_avoidance", 0.85))
    return hits
