"""A deterministic stream of realistic PeerMetals chat messages for the speed benchmark.

Mostly short and clean (greetings, offers, grades, shipping), a quarter with the trade's own
numbers (prices, tracking, certs, serials), a few long messages, a few with emoji or non-ASCII
characters, and about 4% off-platform attempts.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

COINS = ["Morgan dollar", "Peace dollar", "Walking Liberty half", "Mercury dime", "Silver Eagle", "Maple Leaf",
         "Krugerrand", "Buffalo", "Britannia", "Libertad", "Philharmonic", "Panda", "Kookaburra"]
BARS = ["10 oz Engelhard", "1 oz PAMP Fortuna", "5 oz Asahi", "100 oz Royal Canadian Mint", "kilo Heraeus"]
GRADES = ["MS63", "MS65", "PF69 UC", "AU58", "VF30", "XF45", "MS70", "BU"]
SHORT = [
    "Thanks!", "ok sounds good", "Received today, beautiful coin", "Is this still available?", "deal",
    "any scratches on the capsule?", "can you send more photos of the reverse?", "great seller, fast shipping",
    "no worries", "I'll take it", "let me think about it", "what's the condition of the box?", "hey, still got this one?",
    "Are these mixed dates?", "is the price firm?", "shoot me the offer through the site", "checkout done, thanks",
    "the escrow hold cleared", "any toning on the obverse?", "Would you combine shipping?", "perfect, thank you!",
]
CONTACT = [
    "text me at {phone}", "call me {phone} after 5", "my email is {user}@gmail.com", "zelle works, same number",
    "whatsapp me and we can talk", "can I text you instead?", "let's take this offline", "venmo @{user}",
    "email me at {user} at yahoo dot com", "skip the fees, pay me direct", "telegram: @{user}",
    "my cell is {spelled}", "check my site {user}coins.com",
]
EMOJI = ["Got it 👍 shipping tomorrow", "Beautiful coin 😍", "Merci, très belle pièce", "Danke! Schöne Münze",
         "1 oz ×5 — still available?", "price is ＄{price} firm", "⭐⭐⭐⭐⭐ great seller"]
DEFAULT_SEED = 20261126
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _price(rng: random.Random) -> str:
    """A price in the trade's usual formats."""
    value = rng.choice([rng.randint(20, 99), rng.randint(100, 999), rng.randint(1000, 9999)])
    return rng.choice([f"{value}", f"{value:,}", f"${value:,}", f"{value}.{rng.randint(0, 99):02d}"])


def _numeric(rng: random.Random) -> str:
    """A clean message carrying prices, tracking, cert or serial numbers."""
    templates = [
        lambda: f"would you do {_price(rng)}?",
        lambda: f"{_price(rng)} shipped and it's yours",
        lambda: f"spot + {rng.randint(1, 9)}.{rng.randint(0, 99):02d} per oz on the {rng.choice(BARS)}",
        lambda: f"{rng.randint(1850, 2024)} {rng.choice(COINS)} {rng.choice(GRADES)}",
        lambda: f"PCGS cert {rng.randint(10_000_000, 49_999_999)}",
        lambda: f"NGC {rng.randint(1_000_000, 6_999_999)}-{rng.randint(1, 99):03d} {rng.choice(GRADES)}",
        lambda: f"shipped USPS, tracking 9400 1{rng.randint(100, 999)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} {rng.randint(10, 99)}",
        lambda: f"serial {rng.randint(100000, 999999)} on the {rng.choice(BARS)}",
        lambda: f"I'll ship by {rng.randint(1, 11)}:{rng.randint(0, 59):02d} tomorrow",
        lambda: f"{rng.randint(2, 40)} x 1 oz {rng.choice(COINS)}s, {_price(rng)} for all",
        lambda: f"order #{rng.randint(100000, 999999)} hasn't shipped yet",
    ]
    return rng.choice(templates)()


def _long(rng: random.Random) -> str:
    """A long, clean description or question."""
    parts = [f"I have a {rng.choice(COINS)} in {rng.choice(GRADES)} and another in {rng.choice(GRADES)}.",
             f"The {rng.choice(BARS)} has a small scratch near the assay mark, visible in photo {rng.randint(2, 9)}.",
             f"Spot is around {_price(rng)} today so {_price(rng)} is fair for the pair.",
             "Shipping is fully insured and I use double boxes with plenty of padding.",
             "Let me know if you want more photos, happy to take them in daylight tomorrow.",
             f"Mintage was only {rng.randint(10, 900)},000 so these are getting harder to find."]
    rng.shuffle(parts)
    return " ".join(parts[: rng.randint(3, 6)])


def _contact(rng: random.Random) -> str:
    """An off-platform attempt."""
    phone = f"{rng.choice(['415', '646', '702', '312'])} {rng.randint(200, 999)} {rng.randint(1000, 9999)}"
    spelled = " ".join(DIGITS[int(d)] for d in phone.replace(" ", ""))
    user = rng.choice(["stacker", "silverbug", "coinguy", "bullionbob"]) + str(rng.randint(1, 99))
    return rng.choice(CONTACT).format(phone=phone, user=user, spelled=spelled)


def messages(count: int, seed: int = DEFAULT_SEED) -> Iterator[str]:
    """Yield ``count`` messages; the same seed always gives the same stream."""
    rng = random.Random(seed)
    for _ in range(count):
        roll = rng.random()
        if roll < 0.60:
            yield rng.choice(SHORT)
        elif roll < 0.86:
            yield _numeric(rng)
        elif roll < 0.91:
            yield _long(rng)
        elif roll < 0.96:
            yield rng.choice(EMOJI).format(price=_price(rng))
        else:
            yield _contact(rng)


def jsonl(count: int, seed: int = DEFAULT_SEED) -> bytes:
    """The stream as JSON lines, ready for a scanner's stdin."""
    return "".join(json.dumps({"id": f"m{i}", "text": t}) + "\n" for i, t in enumerate(messages(count, seed))).encode()


# --- the number-dense stream ---------------------------------------------------------------------
# Real PeerMetals traffic is trade chat dense with numbers: every clean line below carries two to
# five of the trade's own numbers (prices, cert and tracking numbers with valid check digits,
# dates, weights, serials, order numbers, pop counts, dimensions), often several in one message;
# 5% are off-platform attempts, half of them in the reshaped or foreign forms of issue 15.
DENSE_SEED = 20261206
CITIES = ["Denver", "Tampa", "Austin", "Reno", "Boise", "Dallas"]


def _usps(rng: random.Random) -> str:
    """A 22-digit USPS IMpb number with a valid mod-10 check digit, in groups of four."""
    body = "9400" + "".join(str(rng.randint(0, 9)) for _ in range(17))
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    digits = body + str((10 - total % 10) % 10)
    return " ".join(digits[i : i + 4] for i in range(0, 22, 4))


def _fedex(rng: random.Random) -> str:
    """A 12-digit FedEx Express number with its mod-11 check digit."""
    while True:
        body = "".join(str(rng.randint(0, 9)) for _ in range(11))
        total = sum(int(d) * (1, 3, 7)[i % 3] for i, d in enumerate(reversed(body)))
        check = total % 11 % 10
        return body + str(check)


def _dense_clean(rng: random.Random) -> str:
    """One clean trade message with several numbers."""
    price, cert = _price(rng), rng.randint(10_000_000, 49_999_999)
    weight = rng.choice(["31.103 g", "1.00 oz", "15.55 g", "0.9999 fine", "26.73 g", "10 oz", "1 kilo (32.15 ozt)"])
    date = f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.choice([2024, 2025, 2026])}"
    templates = [
        lambda: f"PCGS {cert} {rng.choice(GRADES)}, pop {rng.randint(10, 9999):,}, asking {price}",
        lambda: f"Tracking {_usps(rng)}, shipped {date}, insured for {price}",
        lambda: f"FedEx {_fedex(rng)} — {rng.randint(1, 9)} boxes, {rng.randint(2, 40)}.{rng.randint(0, 9)} lb total",
        lambda: f"Lot {rng.randint(1000, 9999)}: {rng.randint(2, 50)} x {weight} {rng.choice(COINS)}s @ {price} each, {date}",
        lambda: f"Serial {rng.choice('ABCDEFGH')}{rng.choice('ABCDEFGH')} {rng.randint(100000, 999999)}, {weight}, assay card {rng.randint(1000000, 9999999)}",
        lambda: f"Order #{rng.randint(100000, 999999)}: {price} + {_price(rng)} shipping = {_price(rng)}, cert {cert}",
        lambda: f"NGC {rng.randint(1_000_000, 6_999_999)}-{rng.randint(1, 99):03d}, {rng.randint(1850, 2024)}-{rng.choice('SDOP')}, {weight}, {price}",
        lambda: f"Spot {rng.randint(1800, 3200)}.{rng.randint(0, 99):02d} at {rng.randint(1, 12)}:{rng.randint(0, 59):02d}, so {price} for {rng.randint(2, 20)} is {rng.randint(1, 9)}.{rng.randint(0, 99):02d} over",
        lambda: f"{rng.randint(38, 41)}.{rng.randint(0, 9)} mm x {rng.randint(2, 3)}.{rng.randint(0, 99)} mm, {weight}, mintage {rng.randint(10, 999)},{rng.randint(100, 999)}",
        lambda: f"Picked up in {rng.choice(CITIES)} {date}, receipt {rng.randint(10**9, 10**10 - 1)}, {price} paid via checkout",
        lambda: f"Preis {rng.randint(100, 2999)} €, {weight}, Versand {date}",
        lambda: f"precio {rng.randint(100, 2999)} pesos, {weight}, cert {cert}",
    ]
    return rng.choice(templates)()


def _dense_contact(rng: random.Random) -> str:
    """An off-platform attempt: half plain, half in a reshaped or foreign form."""
    if rng.random() < 0.5:
        return _contact(rng)
    digits = f"{rng.choice(['415', '646', '702', '312'])}555{rng.randint(100, 199):04d}"
    forms = [
        lambda: "me liga: " + " ".join(["zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove"][int(d)] for d in digits),
        lambda: "read it backwards: " + digits[::-1],
        lambda: f"{rng.choice(['coin', 'stack'])}.{rng.randint(1, 99)} arroba gmail ponto com",
        lambda: "call " + "x".join(digits),
        lambda: "find me on the paper plane app, same name as here",
        lambda: "sin comisión: te paso mi CLABE por privado",
    ]
    return rng.choice(forms)()


def dense_messages(count: int, seed: int = DENSE_SEED) -> Iterator[str]:
    """Yield ``count`` number-dense messages (95% clean trade chat, 5% contact)."""
    rng = random.Random(seed)
    for _ in range(count):
        yield _dense_contact(rng) if rng.random() < 0.05 else _dense_clean(rng)


def dense_jsonl(count: int, seed: int = DENSE_SEED) -> bytes:
    """The number-dense stream as JSON lines."""
    return "".join(json.dumps({"id": f"n{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(dense_messages(count, seed))).encode()
