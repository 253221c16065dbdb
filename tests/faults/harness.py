"""Shared by the fault tests and bench/faults.py: a corpus, a single-process reference run, and
the outcome compared by the marketplace's ids (findings, review items, emails)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from storage.db import make_engine, make_session_factory
from storage.models import ContactFinding, Conversation, Message, OutboxEmail, ReviewItem

BIN = Path(sys.executable).parent
STAFF_EMAIL = "safety@peermetals.com"
TEXTS = [
    "is the 1 oz maple still available?", "yes, shipping tomorrow", "can you do 2 for 60?",
    "text me at 415 555 0199 and we skip the fees", "zelle me the money at pay.me@example.com",
    "ok thanks", "my cell is 443", "208 7710", "let's take this offline", "great, ordering now",
    "venmo @silver-stacker", "what's the cert number?", "payment sent through the site",
]


def write_corpus(path: Path, conversations: int, per_conversation: int) -> int:
    """An interchange file with users, conversations and messages; returns the message count."""
    lines: list[dict] = []
    for c in range(conversations):
        buyer, seller = f"u-b{c}", f"u-s{c % 50}"
        lines.append({"type": "user", "id": buyer, "name": f"Buyer {c}", "email": f"buyer{c}@example.com"})
        if c < 50:
            lines.append({"type": "user", "id": seller, "name": f"Seller {c}", "email": f"seller{c}@example.com"})
        lines.append({"type": "conversation", "id": f"c-{c}", "buyer": buyer, "seller": seller, "subject": f"Lot {c}"})
        for m in range(per_conversation):
            sender = buyer if m % 2 == 0 else seller
            lines.append({"type": "message", "id": f"m-{c}-{m}", "conversation": f"c-{c}", "sender": sender,
                          "sent_at": f"2026-11-25T{10 + m // 60:02d}:{m % 60:02d}:00Z",
                          "text": TEXTS[(c * 7 + m) % len(TEXTS)]})
    # Users first, then the conversations and messages (the importer needs the users).
    lines.sort(key=lambda line: {"user": 0, "conversation": 1, "message": 2}[line["type"]])
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return conversations * per_conversation


@dataclass(frozen=True)
class Outcome:
    """What a run produced, by marketplace ids, as multisets (so a duplicate shows as a count of 2)."""

    messages: int
    scanned: int
    findings: Counter
    review_items: Counter
    emails: Counter

    def lost_and_duplicated(self, reference: Outcome) -> dict[str, int]:
        report = {}
        for name in ("findings", "review_items", "emails"):
            mine, theirs = getattr(self, name), getattr(reference, name)
            report[f"{name}_lost"] = sum((theirs - mine).values())
            # More copies of one key than the reference has: a duplicate (or an extra row).
            report[f"{name}_duplicated"] = sum((mine - theirs).values())
        return report


def outcome(database_url: str) -> Outcome:
    """Read a run's outcome from its database."""
    engine = make_engine(database_url)
    with make_session_factory(engine)() as s:
        external = {i: e for i, e in s.execute(select(Message.id, Message.external_id))}
        conv = {i: e for i, e in s.execute(select(Conversation.id, Conversation.external_id))}
        findings = Counter(
            (scope, kind, value, tuple(sorted(external[i] for i in ids)))
            for scope, kind, value, ids in s.execute(select(ContactFinding.scope, ContactFinding.kind,
                                                            ContactFinding.value, ContactFinding.message_ids)))
        items = Counter((conv[c], kind, external[m]) for c, kind, m in s.execute(
            select(ReviewItem.conversation_id, ReviewItem.kind, ReviewItem.message_id)
            .where(ReviewItem.status != "merged")))
        # Every email the run decided to send, whatever its delivery state (the scan scenarios
        # run without an SMTP server; delivery faults are compared by what the server received).
        # Keys name internal item ids, which differ between runs; notice and recipient do not.
        emails = Counter(s.execute(select(OutboxEmail.notice, OutboxEmail.recipient_address)).all())
        total = s.scalar(select(func.count()).select_from(Message))
        scanned = s.scalar(select(func.count()).select_from(Message).where(Message.scanned_at.is_not(None)))
    engine.dispose()
    return Outcome(total, scanned, findings, items, emails)


def reference(corpus: Path, folder: Path) -> Outcome:
    """The single-process reference: import and `run --once` on embedded SQLite."""
    env = {**os.environ, "PEERGUARD_DATA_DIR": str(folder), "EMAIL_URL": (folder / "outbox").as_uri(),
           "PEERGUARD_SECRET_KEY": "fault-suite", "PEERGUARD_STAFF_EMAIL": STAFF_EMAIL}
    for var in ("DATABASE_URL", "REDIS_URL", "PEERGUARD_ENV"):
        env.pop(var, None)
    subprocess.run([str(BIN / "peerguard"), "import", str(corpus)], env=env, check=True, capture_output=True)
    subprocess.run([str(BIN / "peerguard"), "run", "--once"], env=env, check=True, capture_output=True)
    return outcome(f"sqlite:///{folder / 'peerguard.sqlite3'}")
