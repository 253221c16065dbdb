"""Readings worked out once a stretch (or once a conversation) give what working them out each time gave.

``conversation._Runs`` reads a narrower run from the widest one; ``assembly.variants`` takes each
member's kept text from ``kept_of``; ``languages.might_have_phrases`` searches one alternation of
the non-Latin phrases; ``conversation._glued_value`` is remembered. Each is compared with the
plain computation it replaces, on the hand-written cases and on generated conversations.
"""

from __future__ import annotations

import random
from functools import lru_cache

from pipeline.detection import assembly, conversation, languages
from pipeline.detection.checksums import crypto_address_chain, iban_valid
from pipeline.detection.gates import message_words
from pipeline.detection.normalise import normalise
from tests.detection.cases import NEGATIVES, POSITIVES

TEXTS = [text for text, _ in POSITIVES] + list(NEGATIVES)
LONG = "x" * (conversation.MAX_WINDOW_MESSAGE_CHARS + 1)


def _conversations(count: int, seed: int):
    rng = random.Random(seed)
    for _ in range(count):
        size = rng.randint(1, 20)
        senders = [rng.choice(["buyer", "seller", "buyer", None]) for _ in range(size)]
        texts = [LONG if rng.random() < 0.08 else rng.choice(TEXTS) for _ in range(size)]
        yield senders, texts


def test_runs_read_from_the_widest_walk_are_the_walks():
    checked = narrower = 0
    for senders, texts in _conversations(3000, 7):
        for window in (1, 2, 3, 4, 6, 8):
            runs = conversation._Runs(senders, texts, window)
            for first in range(len(texts)):
                for size in range(1, window + 1):
                    assert runs.members(first, size) == conversation._members(senders, texts, first, size), (
                        senders, [len(t) for t in texts], first, size, window)
                    checked += 1
                    if size < window and len(runs.members(first, size)) < len(runs.members(first, window)):
                        narrower += 1
    assert checked > 100_000 and narrower > 10_000  # the narrower runs really are cut from wider ones


def test_runs_cut_at_the_narrower_walks_end():
    # The widest walk (window 6) reaches index 8 past five of the other party's messages; a walk of
    # four stops before index 8 (first + 2 * 4), so its run ends at index 0's first three.
    senders = ["a", "a", "a", "b", "b", "b", "b", "b", "a", "a"]
    texts = ["1", "2", "3", "x", "x", "x", "x", "x", "4", "5"]
    runs = conversation._Runs(senders, texts, 6)
    assert runs.members(0, 6) == [0, 1, 2, 8, 9]
    assert runs.members(0, 4) == [0, 1, 2] == conversation._members(senders, texts, 0, 4)


def test_variants_with_kept_pieces_remembered_are_the_same():
    rng = random.Random(11)
    pieces = TEXTS + ["first part: ZN4W", "EMWJHX", "stacker", "mike_88, PM there", "then a dot and harlan",
                      "and then the usual at example dot com", "  padded  ", ""]
    kept_of = lru_cache(maxsize=None)(assembly.kept_piece)
    built = 0
    for _ in range(3000):
        texts = [rng.choice(pieces) for _ in range(rng.randint(2, 4))]
        members = list(range(len(texts)))
        plain = [(v.text, v.segments) for v in assembly.variants(texts, members)]
        remembered = [(v.text, v.segments) for v in assembly.variants(texts, members, kept_of=kept_of)]
        assert remembered == plain, texts
        built += len(plain)
    assert built > 3000


def test_one_alternation_finds_a_non_latin_phrase_where_any_did():
    vocabulary = languages.VOCABULARY
    phrases = [p for p, _ in vocabulary.nonlatin]
    assert phrases and vocabulary.nonlatin_phrase_pattern is not None
    rng = random.Random(3)
    samples = list(TEXTS)
    for _ in range(3000):
        phrase = rng.choice(phrases)
        cut = rng.randint(0, len(phrase))
        samples.append(rng.choice(TEXTS) + " " + phrase[:cut] + rng.choice(["", " ", "x", phrase[cut:]]) + " ok")
    hits = 0
    for text in samples:
        gate = message_words(normalise(text).text)
        lowered = gate.lowered
        expected = any(p in lowered for p in phrases)
        assert (vocabulary.nonlatin_phrase_pattern.search(lowered) is not None) == expected, text
        hits += expected
    assert 500 < hits < len(samples) - 500


def test_glued_values_remembered_are_the_checks():
    rng = random.Random(5)
    alphabet = "abcdefghjkmnpqrstuvwxyz0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    samples = ["bc1q09lm", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "GB82WEST12345698765432", "DE89370400440532013000"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(8, 60))) for _ in range(500)]
    for glued in samples:
        assert conversation._glued_value(glued) == (crypto_address_chain(glued) or ("iban" if iban_valid(glued) else None))
    assert conversation._glued_value("GB82WEST12345698765432") == "iban"


def test_context_findings_with_the_stage_readings_are_the_same():
    # The stage's memo hands pieces, ranges and kept pieces in; without them each is worked out once a stretch.
    rng = random.Random(19)
    kept: dict = {}
    ranges: dict = {}

    def ranges_of(text, drop):
        return ranges.setdefault((text, drop), assembly.kept_ranges(text, drop))

    def kept_of(text, drop):
        return kept.setdefault((text, drop), assembly.kept_piece(text, drop, ranges_of))

    readings = conversation.Readings(lru_cache(maxsize=None)(assembly.number_pieces), ranges_of, kept_of)
    found = 0
    for senders, texts in _conversations(300, 23):
        messages = list(zip(senders, [t[:200] for t in texts], strict=True))
        new = sorted(rng.sample(range(len(messages)), rng.randint(1, min(3, len(messages)))))
        plain = conversation.context_findings(messages, new)
        assert conversation.context_findings(messages, new, readings=readings) == plain
        found += len(plain)
    assert found > 0
