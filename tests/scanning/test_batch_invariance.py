"""Where the scan stage's batches end must not change what a conversation's scan finds.

The fault suite compares a live run (batches as the importer's commits and the workers' timing
make them) with a one-pass reference, and once found a finding the reference lacked: a seller's
"208 7710" read as a phone number thanks to the same seller's later "what's the cert number?".
Scanned whole, the later message revealed it; scanned in batches that ended between them, it was
never reported, because the new message's windows kept only findings touching a new message.
Here a conversation is cut into batches at random (scanned in order and out of order, as two
workers or a re-ring after a crash would) and the union of the batches' findings must equal one
scan of the whole conversation.
"""

import random
from datetime import UTC, datetime, timedelta

import pytest

from storage.scanning import ScannableMessage
from tests.faults.harness import TEXTS as FAULT_TEXTS
from usecases.scanning import detect

START = datetime(2026, 11, 25, 10, tzinfo=UTC)
MORE_TEXTS = ["my number is 312", "555", "0147", "what's the number?", "stacker77", "at", "outlook", "dot com",
              "call me", "415", "?", "555 0123", "cashapp $goldbug22", "thanks!", "bc1q09lm", "deal", "ok"]


def conversation(rng: random.Random, size: int) -> list[ScannableMessage]:
    texts = FAULT_TEXTS + MORE_TEXTS
    messages = []
    for i in range(size):
        role = rng.choice(["buyer", "seller"])
        messages.append(ScannableMessage(1000 + i, 7, role, rng.choice(texts), START + timedelta(minutes=i)))
    return messages


def keys(messages: list[ScannableMessage], batch: list[ScannableMessage]) -> set[str]:
    """Fingerprints of what scanning ``batch`` stores, its context being every message up to its newest."""
    newest = max(m.sent_at for m in batch)
    context = {7: [m for m in messages if m.sent_at <= newest]}
    return {record.fingerprint() for record in detect(batch, context, ()).records}


@pytest.mark.parametrize("seed", range(40))
def test_batches_find_what_one_pass_finds(seed):
    rng = random.Random(seed)
    messages = conversation(rng, rng.randint(8, 30))
    whole = keys(messages, messages)
    cuts = sorted(rng.sample(range(1, len(messages)), rng.randint(1, min(6, len(messages) - 1))))
    batches = [messages[a:b] for a, b in zip([0, *cuts], [*cuts, len(messages)], strict=True)]
    if seed % 2:
        rng.shuffle(batches)  # a later batch scanned first: the earlier messages are there, unscanned
    found: set[str] = set()
    for batch in batches:
        found |= keys(messages, batch)
    assert found == whole
