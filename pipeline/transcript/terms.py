"""What was agreed: offers, acceptances, items, grades, shipping and payment, read from the messages.

Pure and conservative: every term quotes the exact words of one message (``quote`` is a slice of
its body), so the summary never states anything a party did not write. An offer stays "open"
until the other party accepts it; a later offer from the other side makes it "countered".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pipeline.transcript.model import TranscriptConversation, TranscriptMessage

CURRENCIES = {"$": "USD", "usd": "USD", "dollars": "USD", "€": "EUR", "eur": "EUR", "euros": "EUR",
              "£": "GBP", "gbp": "GBP", "pounds": "GBP", "cad": "CAD", "aud": "AUD", "chf": "CHF"}
# "1,850.00", "1.850" (a dot before three digits groups thousands, as in "€1.700") or "1850.5".
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d{1,3}(?:\.\d{3})+(?!\d)|\d+(?:\.\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?P<pre>[$€£]|\b(?:USD|EUR|GBP|CAD|AUD|CHF)\b)\s?(?P<n1>{_NUMBER})(?![\d.,]*\s?(?:oz|g|kg)\b)"
    rf"|\b(?P<n2>{_NUMBER})\s?(?P<post>USD|EUR|GBP|CAD|AUD|CHF|dollars|euros|pounds)\b",
    re.IGNORECASE)
_NOT_A_PRICE = re.compile(r"\b(spot|shipping (costs?|is|was)|insurance|paypal fees?|premium over|last sold|ebay)\b",
                          re.IGNORECASE)
_ACCEPT = re.compile(r"\b(deal|accept(?:ed)?|agreed|i'?ll take (?:it|them)|sounds good|works for me|let'?s do it|"
                     r"you have a deal|it'?s yours|yes,? please|ok(?:ay)?,? sold|sold)\b", re.IGNORECASE)
_REFUSE = re.compile(r"\b(no deal|not? (?:a )?deal|can'?t|cannot|won'?t|not accept|too low|too high|decline|pass)\b",
                     re.IGNORECASE)
_PAYMENT = re.compile(
    r"\b(?P<refund>refund(?:ed)?)\b|\b(?P<received>payment received|received (?:the |your )?payment|got (?:the |your )?payment)\b"
    r"|\b(?P<paid>(?:i(?:'ve| have)? )?(?:just )?(?:paid|sent (?:the |you )?(?:payment|money|funds)|sent you \$|payment sent))",
    re.IGNORECASE)
_ITEMS = {"maple leaf": "maple leaf", "maple leafs": "maple leaf", "maples": "maple leaf", "maple": "maple leaf",
          "krugerrand": "krugerrand", "krugerrands": "krugerrand", "eagle": "eagle", "eagles": "eagle",
          "buffalo": "buffalo", "buffalos": "buffalo", "buffaloes": "buffalo", "britannia": "britannia",
          "britannias": "britannia", "philharmonic": "philharmonic", "philharmonics": "philharmonic",
          "panda": "panda", "pandas": "panda", "bar": "bar", "bars": "bar", "round": "round", "rounds": "round",
          "coin": "coin", "coins": "coin", "sovereign": "sovereign", "sovereigns": "sovereign"}
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
          "ten": 10, "twenty": 20, "a pair of": 2}
_ITEM = re.compile(
    r"(?<![-\w.,])(?P<count>\d{1,4}|one|two|three|four|five|six|seven|eight|nine|ten|twenty|a pair of)(?:\s*x\s*|\s+)"
    r"(?:(?:\d+(?:\.\d+)?|1/\d+)\s?(?:oz|ounces?|g|grams?|kg|kilos?)\s+)?(?:(?:gold|silver|platinum|american|canadian|"
    r"south african|austrian|chinese|british|pamp|valcambi|generic)\s+)*"
    r"(?P<item>" + "|".join(sorted(map(re.escape, _ITEMS), key=len, reverse=True)) + r")\b", re.IGNORECASE)
_GRADE = re.compile(r"\b(?P<code>(?:MS|PF|PR|SP)[- ]?(?:[1-6]\d|70))\b|\b(?P<grader>NGC|PCGS|ANACS)\b"
                    r"|\b(?P<cond>brilliant uncirculated|uncirculated|BU|proof|mint condition|no scratches|"
                    r"cleaned|scratched|damaged|milk spots?)\b", re.IGNORECASE)
_SHIP_PROMISE = re.compile(
    r"\b(?:i'?ll|will|can|going to|gonna)\s+(?:ship|send|mail|post)(?: it| them| the \w+)?\s+"
    r"(?P<when>today|tomorrow|tonight|this week|next week|on (?:mon|tues|wednes|thurs|fri|satur|sun)day|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|by (?:mon|tues|wednes|thurs|fri|satur|sun)day|"
    r"within \d+ (?:business )?days?)\b"
    r"|(?<!\d )\b(?P<done>(?:i )?(?:just )?(?:shipped|mailed|dropped (?:it|them) off))\b", re.IGNORECASE)
_TRACKING = re.compile(r"\b(1Z[0-9A-Z]{16}|\d{22}|\d{20}|\d{12})\b")


@dataclass(frozen=True)
class AgreedTerm:
    """One statement about the deal, quoted from one message."""

    kind: str        # offer, counter-offer, acceptance, item, grade, shipping, tracking, payment
    message_id: str
    index: int       # the message's position (links to its block)
    role: str
    value: str       # normalised: "USD 1850.00", "2 maple leaf", "MS70", "tomorrow", "UPS 1Z…", "paid USD 50.00"
    quote: str       # the exact words, a slice of the body
    status: str = ""  # offers: open, countered or accepted (by message id)


def agreed_terms(conversation: TranscriptConversation) -> tuple[AgreedTerm, ...]:
    """Every term stated in the conversation, in message order, with offers resolved."""
    terms: list[AgreedTerm] = []
    for index, message in enumerate(conversation.messages):
        terms += _message_terms(index, message)
    return tuple(_resolve_offers(terms))


def _message_terms(index: int, message: TranscriptMessage) -> list[AgreedTerm]:
    body, role = message.body, message.sender_role.value

    def term(kind: str, value: str, match: re.Match, *more: re.Match) -> AgreedTerm:
        start, end = min(m.start() for m in (match, *more)), max(m.end() for m in (match, *more))
        return AgreedTerm(kind, message.external_id, index, role, value, body[start:end])

    found: list[AgreedTerm] = []
    payment = _PAYMENT.search(body)
    amounts = [(m, _amount(m)) for m in _AMOUNT.finditer(body) if not _NOT_A_PRICE.search(_around(body, m))]
    if payment is not None:
        verb = "refund" if payment.group("refund") else "received" if payment.group("received") else "paid"
        value = f"{verb} {amounts[0][1]}" if amounts else verb
        found.append(term("payment", value, payment))
    elif _ACCEPT.search(body) and not _REFUSE.search(body):
        accepted = _ACCEPT.search(body)
        # Quoted with its amount, if any, since it may turn out to be a counter-offer.
        found.append(term("acceptance", amounts[0][1] if amounts else "", accepted, *[m for m, _ in amounts[:1]]))
    elif amounts and not _REFUSE.search(body):
        # In a trade conversation an amount that is not spot, shipping, insurance or a payment
        # is a price put on the table.
        found += [term("offer", value, match) for match, value in amounts[:1]]
    found += [term("item", f"{_count(m.group('count'))} {_ITEMS[m.group('item').lower()]}", m) for m in _ITEM.finditer(body)]
    found += [term("grade", _grade(m), m) for m in _GRADE.finditer(body)]
    found += [term("shipping", _when(m), m) for m in _SHIP_PROMISE.finditer(body)]
    found += [term("tracking", f"{carrier} {number}", m) for m in _TRACKING.finditer(body)
              if (carrier := tracking_carrier(number := m.group(1)))]
    return found


def _when(match: re.Match) -> str:
    when = match.group("when")
    return when.lower().removeprefix("on ") if when else "shipped"


def _around(body: str, match: re.Match) -> str:
    """The words next to an amount, within its own clause (so "eBay for $2,100, mine is $2,000" keeps the second)."""
    before = re.split(r"[,;.!?](?=\s)", body[max(0, match.start() - 30):match.start()])[-1]
    after = re.split(r"[,;.!?](?=\s|$)", body[match.end():match.end() + 20])[0]
    return before + match.group(0) + after


def _amount(match: re.Match) -> str:
    symbol = (match.group("pre") or match.group("post")).lower()
    number = match.group("n1") or match.group("n2")
    number = number.replace(".", "") if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", number) else number.replace(",", "")
    return f"{CURRENCIES[symbol]} {float(number):.2f}"


def _count(text: str) -> int:
    return int(text) if text.isdigit() else _WORDS[text.lower()]


def _grade(match: re.Match) -> str:
    if match.group("code"):
        return re.sub(r"[- ]", "", match.group("code")).upper()
    if match.group("grader"):
        return match.group("grader").upper()
    condition = match.group("cond")
    return condition.upper() if condition.lower() == "bu" else condition.lower()


def _resolve_offers(terms: Sequence[AgreedTerm]) -> list[AgreedTerm]:
    """Mark counter-offers, acceptances' amounts and each offer's final status."""
    resolved = list(terms)
    open_offer: int | None = None  # position in ``resolved`` of the offer on the table
    for position, item in enumerate(resolved):
        if item.kind == "offer":
            previous = resolved[open_offer] if open_offer is not None else None
            if previous is not None and previous.role != item.role:
                resolved[open_offer] = replace(previous, status="countered")
                resolved[position] = item = replace(item, kind="counter-offer")
            elif previous is not None:
                resolved[open_offer] = replace(previous, status="replaced")
            resolved[position] = replace(item, status="open")
            open_offer = position
        elif item.kind == "acceptance":
            previous = resolved[open_offer] if open_offer is not None else None
            if previous is not None and previous.role != item.role and item.value and item.value != previous.value:
                # "Make it $2,050 and it's yours" names a new price: a counter-offer, not a yes.
                resolved[open_offer] = replace(previous, status="countered")
                resolved[position] = replace(item, kind="counter-offer", status="open")
                open_offer = position
                continue
            if previous is None or previous.role == item.role or (item.value and item.value != previous.value):
                resolved[position] = replace(item, status="no offer from the other party to accept")
                continue
            resolved[open_offer] = replace(previous, status=f"accepted in {item.message_id}")
            resolved[position] = replace(item, value=previous.value, status=f"accepts {previous.message_id}")
            open_offer = None
    return [t for t in resolved if not (t.kind == "acceptance" and t.status.startswith("no offer"))]


def tracking_carrier(number: str) -> str | None:
    """The carrier whose check digit a tracking number satisfies (UPS, FedEx, USPS), else None."""
    if number.startswith("1Z") and len(number) == 18:
        return "UPS" if _ups_check(number[2:]) else None
    if number.isdigit() and len(number) == 12:
        return "FedEx" if _fedex_check(number) else None
    if number.isdigit() and len(number) in (20, 22) and number[:2] in ("92", "93", "94", "95", "82"):
        return "USPS" if _usps_check(number) else None
    return None


def _ups_check(body: str) -> bool:
    total = 0
    for position, character in enumerate(body[:15]):
        value = int(character) if character.isdigit() else (ord(character) - ord("A") + 2) % 10
        total += value * 2 if position % 2 else value
    return (10 - total % 10) % 10 == int(body[15]) if body[15].isdigit() else False


def _fedex_check(number: str) -> bool:
    weights = (1, 7, 3)
    total = sum(int(digit) * weights[i % 3] for i, digit in enumerate(reversed(number[:11])))
    return total % 11 % 10 == int(number[11])


def _usps_check(number: str) -> bool:
    payload = number[:-1]
    total = sum(int(digit) * (3 if i % 2 == 0 else 1) for i, digit in enumerate(reversed(payload)))
    return (10 - total % 10) % 10 == int(number[-1])
