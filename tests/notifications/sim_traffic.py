"""One week of seeded marketplace traffic for the notification simulation: users, conversations, messages, reads.

Plain data only (no PeerGuard import), so the reference model and the test read the same traffic.
Times are chosen so every rule fires: sellers who answer before the new-message email, after
it, after the 1-hour reminder (some at night, so the reminder is held for quiet hours), after the
final warning, or never (breach); buyers who write again within the hour (repeat rule); daily
and off preferences; away sellers; and a week across the end of US daylight saving time
(2026-11-01). Some buyers leave contact details, a few split over two messages.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

START = datetime(2026, 10, 29, 0, 0, tzinfo=UTC)
END = START + timedelta(days=7)
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "America/Denver", "Europe/London",
         "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney", "UTC")
LISTINGS = ("2024 1 oz Gold Eagle", "10 oz Silver Bar", "1 oz Krugerrand", "Maple Leaf tube", "Junk silver face",
            "Britannia 1 oz", "Pre-1933 Double Eagle", "Kilo silver bar", "Philharmonic roll", "Sovereign lot")
ASKS = ("Is this still available?", "Can you do a better price?", "What is the shipping cost?",
        "Do you have more of these?", "Is the coin graded?", "Can you ship tomorrow?", "Any scratches on it?")
ANSWERS = ("Yes, still available.", "Shipped today.", "I can do a small discount.", "Sorry, sold out.",
           "No scratches at all.", "Sure, tomorrow works.")
# How a seller reacts to a buyer's burst: (name, delay range in seconds).
SELLER_MODES = (
    ("before-email", (20, 100)),            # replies before the 2-minute new-message email
    ("minutes", (4 * 60, 50 * 60)),         # after the email, before the reminder
    ("hours", (70 * 60, 19 * 3600)),        # after the reminder (held at night)
    ("late", (20.3 * 3600, 23.7 * 3600)),   # after the final warning
    ("never", None),                        # breach
)
SELLER_WEIGHTS = (3, 4, 4, 2, 1)


@dataclass(frozen=True)
class SimUser:
    id: str
    name: str
    email: str
    timezone: str
    notify: str
    away: bool = False


@dataclass(frozen=True)
class SimConversation:
    id: str
    buyer: str
    seller: str
    subject: str
    order: str | None


@dataclass(frozen=True)
class SimMessage:
    id: str
    conversation: str
    sender: str
    at: datetime
    text: str


@dataclass(frozen=True)
class SimRead:
    conversation: str
    user: str
    at: datetime


@dataclass
class Traffic:
    users: dict[str, SimUser] = field(default_factory=dict)
    conversations: dict[str, SimConversation] = field(default_factory=dict)
    events: list[SimMessage | SimRead] = field(default_factory=list)
    """Every message and read receipt, in time order."""


def generate(seed: int = 14, users: int = 200, sellers: int = 40, conversations: int = 80) -> Traffic:
    """The week's traffic, the same for the same seed."""
    rng = random.Random(seed)
    traffic = Traffic()
    for n in range(1, users + 1):
        notify = rng.choices(("immediate", "daily", "off"), (78, 14, 8))[0]
        away = n <= sellers and rng.random() < 0.06
        traffic.users[f"u-{n}"] = SimUser(f"u-{n}", f"User {n}", f"user{n}@example.com", rng.choice(ZONES), notify, away)
    seller_ids = [f"u-{n}" for n in range(1, sellers + 1)]
    buyer_ids = [f"u-{n}" for n in range(sellers + 1, users + 1)]
    counter = iter(range(10_000, 10**6))
    events: list[SimMessage | SimRead] = []
    for k in range(conversations):
        # A few busy sellers get half of the enquiries: their night-time reminders come due
        # together at 07:00, so grouped emails happen.
        seller = rng.choice(seller_ids[:3] if rng.random() < 0.5 else seller_ids)
        conv = SimConversation(f"c-{k + 100}", rng.choice(buyer_ids), seller, rng.choice(LISTINGS),
                               f"o-{k + 5000}" if rng.random() < 0.4 else None)
        traffic.conversations[conv.id] = conv
        events += _conversation_events(rng, conv, counter)
    # Whole seconds, as a marketplace export gives them.
    whole = [replace(e, at=e.at.replace(microsecond=0)) for e in events]
    traffic.events = sorted((e for e in whole if e.at < END), key=lambda e: (e.at, isinstance(e, SimRead)))
    return traffic


def _conversation_events(rng: random.Random, conv: SimConversation, counter) -> list[SimMessage | SimRead]:
    events: list[SimMessage | SimRead] = []
    at = START + timedelta(seconds=rng.uniform(600, 6.5 * 86400))
    for _round in range(rng.choice((1, 2, 2, 3))):
        burst = _buyer_burst(rng, conv, at, counter)
        events += burst
        last = burst[-1].at
        if rng.random() < 0.25:  # writes again later in the hour: the repeat rule
            events.append(SimMessage(f"m-{next(counter)}", conv.id, conv.buyer, last + timedelta(seconds=rng.uniform(5 * 60, 50 * 60)),
                                     rng.choice(ASKS)))
        mode, span = rng.choices(SELLER_MODES, SELLER_WEIGHTS)[0]
        if span is None:
            return events
        if rng.random() < 0.2:  # a read receipt first, the answer later
            events.append(SimRead(conv.id, conv.seller, burst[0].at + timedelta(seconds=rng.uniform(30, 600))))
        answer_at = burst[0].at + timedelta(seconds=rng.uniform(*span))
        events.append(SimMessage(f"m-{next(counter)}", conv.id, conv.seller, answer_at, rng.choice(ANSWERS)))
        if rng.random() < 0.6:  # the buyer reads the answer, before or after their email
            events.append(SimRead(conv.id, conv.buyer, answer_at + timedelta(seconds=rng.uniform(20, 3 * 3600))))
        at = answer_at + timedelta(seconds=rng.uniform(0.5 * 3600, 30 * 3600))
    return events


def _buyer_burst(rng: random.Random, conv: SimConversation, at: datetime, counter) -> list[SimMessage]:
    """One to three buyer messages within a minute; some carry a contact detail, a few split in two."""
    roll = rng.random()
    digits = f"{rng.choice((212, 312, 415, 646, 718, 917))} {rng.randint(201, 989)} {rng.randint(1000, 9999)}"
    if roll < 0.08:
        texts = [f"{rng.choice(ASKS)} my cell {digits[:3]}", digits[4:]]
    elif roll < 0.16:
        texts = [f"{rng.choice(ASKS)} Call me at {digits.replace(' ', '-')}"]
    elif roll < 0.22:
        texts = [f"{rng.choice(ASKS)} Write to {rng.choice(('goldbug', 'stacker', 'coinguy'))}{rng.randint(10, 99)}@protonmail.com"]
    else:
        texts = [rng.choice(ASKS) for _ in range(rng.choice((1, 1, 2, 3)))]
    burst = []
    for text in texts:
        burst.append(SimMessage(f"m-{next(counter)}", conv.id, conv.buyer, at, text))
        at += timedelta(seconds=rng.uniform(3, 25))
    return burst
