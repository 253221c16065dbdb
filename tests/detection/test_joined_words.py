"""A window's gate words read from its parts (session s11-steady) are the joined text's own.

``gates.joined_message_words(parts)`` must equal ``message_words(" ".join(parts))`` for ASCII
parts, and ``scanner.scan_joined(parts)`` must equal ``scan_text(" ".join(parts))`` for any parts
(non-ASCII ones go the ordinary way). Compared on the hand-written cases joined in runs, and on
generated parts built of what ``message_words``' argument is about: letters next to digits and to
``@ $ |`` at a part's ends (junctions and signs the joining space must cut), leet tokens, spelled
and plain digits, look-alikes, spaces at the edges, empty parts.
"""

from __future__ import annotations

import random

from pipeline.detection import gates, scanner
from pipeline.detection.gates import joined_message_words, message_words
from pipeline.detection.scanner import scan_joined, scan_text
from tests.detection.cases import NEGATIVES, POSITIVES

TEXTS = [text for text, _ in POSITIVES] + list(NEGATIVES)

_PIECES = [
    "z3lle", "wh@tsapp", "a1", "1a", "9400", "7035", "$1,390", "$", "@", "|", "a|b", "l|ne", "venm0", "c4sh", "1 oz",
    "four", "one", "five", "555", "0123", "me@x.com", "x", "X", "0x", "0xdeadbeef", "gmail", "dot", "com", "at",
    "mike_88", "pay", "paypal", "cashapp", "telegram", "call", "text", "me", "@mike", "mike@", "2021", "1oz", "oz1",
    "the", "reverse", "photos", "hi", "ok", "?", "!", "ZN4W", "EMWJHX", "bc1q09lm", "|1", "1|", "$5", "5$", "a@", "@a",
]
_GLUE = [" ", "  ", "", ", ", ".", "-", "_", "\t", "\n"]


def _part(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return ""
    words = []
    for _ in range(rng.randint(1, 6)):
        word = rng.choice(_PIECES)
        if rng.random() < 0.2:
            word = word.upper()
        words += [word, rng.choice(_GLUE)]
    text = "".join(words)
    if rng.random() < 0.2:
        text = " " + text
    if rng.random() < 0.3:
        text = text.rstrip()
    return text


def _generated(count: int, seed: int):
    rng = random.Random(seed)
    for _ in range(count):
        yield [_part(rng) for _ in range(rng.randint(1, 6))]


def _same_words(parts: list[str]) -> None:
    expected = message_words(" ".join(parts))
    got = joined_message_words(parts)
    assert (got.words, got.digits, got.lowered) == (expected.words, expected.digits, expected.lowered), parts


def test_joined_words_are_the_joined_texts_words():
    mixed = 0
    for parts in _generated(20_000, 11):
        _same_words(parts)
        mixed += gates._MIXED_JUNCTION.search(" ".join(parts).lower()) is not None
    assert mixed > 5_000  # the generated parts do reach the mixed-token branch, often
    ascii_cases = [t for t in TEXTS if t.isascii()]
    for k in range(len(ascii_cases) - 3):
        _same_words(ascii_cases[k : k + 1 + k % 4])


def test_joined_words_see_junctions_only_inside_a_part():
    # The joining space cuts "a" | "1" and "1" | "a": neither the parts nor the joined text has a junction.
    _same_words(["a", "1"])
    _same_words(["1", "a"])
    assert "a1" not in joined_message_words(["a", "1"]).lowered.split(" ")[-1:]
    # A part with a sign but no junction ("$5") adds its token once another part has a junction.
    _same_words(["$5", "z3lle"])
    assert joined_message_words(["$5", "z3lle"]).lowered == "$5 z3lle ss zelle"
    _same_words(["$5", "hello"])
    assert joined_message_words(["$5", "hello"]).lowered == "$5 hello"


def test_scan_joined_is_scan_text_of_the_joined_text():
    found = 0
    rng = random.Random(5)
    cases = list(_generated(3_000, 12))
    cases += [[rng.choice(TEXTS) for _ in range(rng.randint(1, 5))] for _ in range(1_500)]
    cases += [["my number is four one five", "555", "0123"], ["é café", "555 0123"], ["ok", "", "z3lle me"]]
    for parts in cases:
        expected = scan_text(" ".join(parts))
        assert scan_joined(parts) == expected, parts
        found += bool(expected)
    assert found > 500


def test_scan_joined_uses_the_parts_only_where_normalise_leaves_the_text(monkeypatch):
    calls = []
    real = scanner.joined_message_words
    monkeypatch.setattr(scanner, "joined_message_words", lambda parts: calls.append(parts) or real(parts))
    scan_joined(["call me", "555 0123 4567"])
    assert calls == [["call me", "555 0123 4567"]]
    calls.clear()
    assert scan_joined(["mike", "at gmail dot com"]) == scan_text("mike at gmail dot com")  # normalise rewrites it
    assert calls == []
