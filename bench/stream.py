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
