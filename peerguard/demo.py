"""A realistic sample marketplace for `peerguard demo`: users, conversations, photos, evasions."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw

ITEMS = [
    ("2024 1 oz American Gold Eagle", 2650), ("1 oz Silver Maple Leaf tube of 25", 890),
    ("10 oz Engelhard silver bar", 320), ("1921 Morgan dollar PCGS MS63", 145),
    ("1 oz Gold Krugerrand", 2610), ("1/10 oz Gold Buffalo", 290), ("100 g PAMP Fortuna bar", 8300),
    ("1986 Proof Silver Eagle NGC PF69", 95), ("1 kilo silver bar", 1050), ("Walking Liberty half roll", 430),
    ("1 oz Platinum Eagle", 1020), ("Saint-Gaudens $20 MS64", 2900),
]
SELLER_TIMEZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London", "Australia/Sydney"]
FIRST_NAMES = ["Greg", "Dana", "Luis", "Priya", "Tom", "Mei", "Sam", "Ola", "Ravi", "Jen", "Ken", "Ada", "Bo", "Cy", "Eve", "Finn", "Gus", "Hal", "Ivy", "Joy"]

BUYER_OPENERS = [
    "Hi, is the {item} still available?", "Could you send a photo of the reverse?",
    "What's the best price on the {item}? I'm looking at {price}.", "Does it come in the original capsule?",
    "Any toning or spots on the {item}?", "How soon can you ship?",
]
SELLER_REPLIES = [
    "Yes, still available. I can ship tomorrow with signature confirmation.",
    "Photo attached, no spots. Cert {cert} verifies on the PCGS site.",
    "I can do {price} shipped, checkout through PeerMetals as usual.",
    "Shipped today, USPS tracking 9400 1118 9956 2210 0437 13, insured for the full amount.",
    "It's {weight} g on my scale, as expected.",
]
EVASIONS = [
    ("phone", "text me at four one five, five five five, oh one two three and we can talk"),
    ("phone", "call 415-555-0199 after 5pm"),
    ("email", "email me: stackerjoe at gmail dot com, I'll send more pics"),
    ("payment", "zelle me and save the fees, I'll ship right away"),
    ("payment", "I take venmo or cash app, $SilverStacker88"),
    ("handle", "hit me up on whatsapp, quicker there"),
    ("url", "more stock at www.silverdealsdirect.net, cheaper than here"),
    ("intent", "let's take this offline, the fees here are crazy"),
]
SPLIT_EVASION = ["my number is 312", "555", "0147 text me"]


@dataclass
class DemoWorld:
    """What the generator wrote: the interchange file and what it contains."""

    path: Path
    conversations: int
    messages: int
    photos: int
    evasions: int
    slow_sellers: int


def anchor_time(target: Path, now: datetime) -> datetime:
    """The demo's reference time, fixed on first use so a re-run re-imports identical data."""
    stamp = target / "anchor.txt"
    if stamp.exists():
        return datetime.fromisoformat(stamp.read_text().strip())
    target.mkdir(parents=True, exist_ok=True)
    stamp.write_text(now.isoformat())
    return now


def build(target: Path, now: datetime, conversations: int = 60, seed: int = 7) -> DemoWorld:
    """Write a marketplace export (JSON lines + photo files) under ``target``, ending at ``now``."""
    rng = random.Random(seed)
    files = target / "files"
    files.mkdir(parents=True, exist_ok=True)
    lines: list[dict] = []
    sellers = [_user(lines, f"seller-{i}", rng, seller=True) for i in range(12)]
    buyers = [_user(lines, f"buyer-{i}", rng, seller=False) for i in range(30)]
    slow = set(rng.sample(sellers, 4))
    counts = {"messages": 0, "photos": 0, "evasions": 0, "split": 0}
    for c in range(conversations):
        seller, buyer = sellers[c % len(sellers)], rng.choice(buyers)
        item, price = rng.choice(ITEMS)
        conv_id = f"c-{c + 1:03d}"
        lines.append({"type": "conversation", "id": conv_id, "buyer": buyer, "seller": seller, "subject": item, "order": f"o-{7000 + c}"})
        start = now - timedelta(hours=rng.uniform(2, 70))
        _conversation(lines, files, rng, conv_id, buyer, seller, item, price, start, now, seller in slow, counts, c)
    _daily_reader(lines, sellers[1], "c-daily", now, counts)
    path = target / "marketplace.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line) + "\n")
    return DemoWorld(path, conversations, counts["messages"], counts["photos"], counts["evasions"], len(slow))


DIGEST_ZONES = ["Pacific/Kiritimati", "Asia/Tokyo", "Asia/Kolkata", "Europe/Berlin", "UTC", "America/New_York",
                "America/Los_Angeles", "Pacific/Honolulu"]
"""Between them some zone's clock is past 09:00 at any moment: the demo's daily reader lives there."""


def _daily_reader(lines: list[dict], seller: str, conv_id: str, now: datetime, counts: dict) -> None:
    """A buyer who chose the daily digest, with a message unread since before today's 08:00 on their clock."""
    zone = next(ZoneInfo(z) for z in DIGEST_ZONES if now.astimezone(ZoneInfo(z)).hour >= 9)
    local = now.astimezone(zone)
    before_digest = local.replace(hour=6, minute=0, second=0, microsecond=0).astimezone(now.tzinfo)
    lines.append({"type": "user", "id": "buyer-daily", "name": "Dee Daily", "email": "buyer-daily@example.com",
                  "timezone": zone.key, "away": False, "notify": "daily"})
    lines.append({"type": "conversation", "id": conv_id, "buyer": "buyer-daily", "seller": seller,
                  "subject": "1 oz Gold Krugerrand"})
    _message(lines, conv_id, seller, before_digest, "Good morning, the Krugerrand is ready to ship whenever you are.", counts)


def _user(lines: list[dict], user_id: str, rng: random.Random, seller: bool) -> str:
    name = f"{rng.choice(FIRST_NAMES)} {user_id.split('-')[1]}"
    tz = rng.choice(SELLER_TIMEZONES) if seller else "UTC"
    lines.append({"type": "user", "id": user_id, "name": name, "email": f"{user_id}@example.com", "timezone": tz, "away": False})
    return user_id


def _conversation(lines, files, rng, conv_id, buyer, seller, item, price, start, now, slow, counts, index) -> None:
    t = start
    for turn in range(rng.randint(2, 6)):
        buyer_text = rng.choice(BUYER_OPENERS).format(item=item, price=price - rng.randint(5, 60))
        _message(lines, conv_id, buyer, t, buyer_text, counts)
        if slow and turn == 0:
            return  # A slow seller leaves the first question unanswered.
        t += timedelta(minutes=rng.choice([4, 12, 35, 50, 90, 180]))
        if t >= now:
            return
        reply = rng.choice(SELLER_REPLIES).format(cert=f"{rng.randint(40000000, 49999999)}", price=price, weight=rng.choice(["31.1", "311.0", "1000.2"]))
        attachments = []
        if rng.random() < 0.45:
            attachments.append(_photo(files, rng, f"{conv_id}-{turn}.jpg", item))
            counts["photos"] += 1
        if index % 4 == 0 and turn == 0:
            kind, reply = EVASIONS[counts["evasions"] % len(EVASIONS)]
            counts["evasions"] += 1
        _message(lines, conv_id, seller, t, reply, counts, attachments)
        if index % 4 == 2 and turn == 0 and counts["split"] < 2:
            counts["split"] += 1
            for part in SPLIT_EVASION:
                t += timedelta(seconds=20)
                _message(lines, conv_id, seller, t, part, counts)
            counts["evasions"] += 1
        t += timedelta(minutes=rng.choice([3, 20, 60, 240]))
        if t >= now:
            return


def _message(lines, conv_id, sender, when, text, counts, attachments=()) -> None:
    counts["messages"] += 1
    lines.append({
        "type": "message", "id": f"m-{counts['messages']:05d}", "conversation": conv_id, "sender": sender,
        "sent_at": when.isoformat().replace("+00:00", "Z"), "text": text, "attachments": list(attachments),
    })


def _photo(files: Path, rng: random.Random, name: str, label: str) -> dict:
    """A coin-like photo: a metallic disc with a rim and the item's name."""
    image = Image.new("RGB", (800, 600), tuple(rng.randint(20, 60) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    metal = rng.choice([(212, 175, 55), (192, 192, 192), (229, 228, 226)])
    draw.ellipse((200, 100, 600, 500), fill=metal, outline=(90, 90, 90), width=12)
    draw.ellipse((260, 160, 540, 440), outline=tuple(c - 40 for c in metal), width=4)
    draw.text((220, 530), label[:40], fill=(240, 240, 240))
    image.save(files / name, "JPEG", quality=82)
    return {"path": f"files/{name}", "name": name}
