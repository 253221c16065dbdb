"""Shortcuts of the scan stage's detection bookkeeping (session s10-detect) give what they replace.

``assembly._fillers_in`` (the fillers of an ASCII text looked up by run instead of the pattern's
alternation tried at every position) is compared with ``_filler_pattern().finditer`` on the
hand-written cases and on generated texts built of fillers, look-alikes and the characters its
argument is about ("." before, "@" and "'" around, ``[\\s,:]`` after, case).
"""

from __future__ import annotations

import random

from pipeline.detection import assembly, languages
from tests.detection.cases import NEGATIVES, POSITIVES

TEXTS = [text for text, _ in POSITIVES] + list(NEGATIVES)


def _by_pattern(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in assembly._filler_pattern().finditer(text, start, end)]


def _generated(count: int, seed: int):
    rng = random.Random(seed)
    fillers = sorted(languages.VOCABULARY.fillers)
    latin = [w for w in fillers if w.isascii()]
    words = [*latin, "thenn", "thé", "then_", "_the", "its'", "and1", "xand", "code", "ZN4W", "mike_88", "gmail", "com"]
    glue = [" ", "  ", ", ", ":", " : ", ".", ". ", "@", "'", "-", "\t", "\n", "\x1c", "", "_", "1", "é"]
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 10)):
            word = rng.choice(words if rng.random() < 0.8 else fillers)
            if rng.random() < 0.3:
                word = word.upper() if rng.random() < 0.5 else word.capitalize()
            parts += [word, rng.choice(glue)]
        yield "".join(parts)


def test_fillers_found_by_run_are_the_patterns_matches():
    checked = ascii_texts = 0
    for text in [*TEXTS, *_generated(20000, 3)]:
        spans = [(0, len(text)), (len(text) - len(text.lstrip()), len(text.rstrip()))]
        if len(text) > 4:
            spans.append((2, len(text) - 1))
        for start, end in spans:
            assert assembly._fillers_in(text, start, end) == _by_pattern(text, start, end), (text, start, end)
            checked += 1
        ascii_texts += text.isascii()
    assert checked > 40000 and ascii_texts > 10000
    assert assembly._ascii_fillers() is not None  # the shortcut is taken with today's vocabulary


def test_kept_ranges_and_pieces_are_the_patterns():
    def ranges_by_pattern(text: str, drop: bool) -> list[tuple[int, int]]:
        stripped_start, stripped_end = len(text) - len(text.lstrip()), len(text.rstrip())
        if not drop:
            return [(stripped_start, stripped_end)]
        ranges, cursor = [], stripped_start
        for m in assembly._filler_pattern().finditer(text, stripped_start, stripped_end):
            if m.start() > cursor:
                ranges.append((cursor, m.start()))
            cursor = max(cursor, m.end())
        if cursor < stripped_end:
            ranges.append((cursor, stripped_end))
        return ranges

    for text in [*TEXTS, *_generated(5000, 4)]:
        for drop in (False, True):
            ranges = assembly.kept_ranges(text, drop)
            assert ranges == ranges_by_pattern(text, drop), text
            kept, same = assembly.kept_piece(text, drop)
            assert same == ranges
            assert kept == " ".join(text[s:e].strip() for s, e in ranges).strip()


def test_unconfuse_without_look_alikes_is_the_substitution():
    from pipeline.detection import normalise as norm

    samples = [*TEXTS, "café crème", "naïve façade", "Нет, сто", "gmаil", "νiber", "中文 text", "ß straße", "ǅ", "İstanbul"]
    for text in samples:
        expected = (norm._CONFUSABLE_WORD.sub(norm._unconfuse_mixed_word, text) if norm._PLAIN_CYRILLIC.search(text)
                    else norm._CONFUSABLE_WORD.sub(norm._unconfuse_word, text))
        assert norm._unconfuse(text) == expected, text


def test_edge_pieces_remembered_are_the_readings():
    from pipeline.detection import conversation

    rng = random.Random(5)
    samples = [*TEXTS, "bc1q09lm", "  h5gw3f...", "h5gw3f.", "ab", "", "   ", "x" * 80 + " abcd1234 ,;",
               *("".join(rng.choice("ab1 .,:;_-\t") for _ in range(rng.randint(0, 90))) for _ in range(3000))]
    for text in samples:
        pieces = conversation._EDGE_TOKEN.findall(text[-64:])
        tail = (pieces[-1], text.rindex(pieces[-1]), len(text.rstrip(" .,:;"))) if pieces else None
        assert conversation._tail_piece(text) == tail, text
        head = conversation._EDGE_TOKEN.match(text.strip())
        assert conversation._head_piece(text) == (None if head is None else (head.group(), text.index(head.group()))), text


def test_unpack_of_pairs_is_the_general_reading():
    from collections import namedtuple

    from pipeline.detection import conversation

    Pair = namedtuple("Pair", "sender text")
    messages = [("buyer", "hi"), (None, "x"), ("seller", ""), ("buyer", None), (1, "n"), "plain",
                {"sender": "buyer", "text": "m"}, Pair("seller", "t"), ["buyer", "list"], ("a", "b", "c")[:2]]
    senders, texts = conversation._unpack(messages)
    assert senders == ["buyer", None, "seller", "buyer", "1", None, "buyer", "seller", "buyer", "a"]
    assert texts == ["hi", "x", "", "", "n", "plain", "m", "t", "list", "b"]


def test_memo_trimmed_in_place_keeps_only_the_kept_texts_readings_in_order():
    from usecases import detecting

    memo = detecting._ConversationMemo()
    texts = ["a 1", "b 2", "c 3", "d 4"]
    for text in texts:
        memo.scans[text] = []
        memo.pieces_of(text)
        for drop in (False, True):
            memo.kept_of(text, drop)
    keep = {"b 2", "d 4", "not read"}
    expected = {"scans": {t: f for t, f in memo.scans.items() if t in keep},
                "pieces": {t: p for t, p in memo.pieces.items() if t in keep},
                "ranges": {k: r for k, r in memo.ranges.items() if k[0] in keep},
                "kept": {k: r for k, r in memo.kept.items() if k[0] in keep}}
    assert all(len(expected[name]) < len(getattr(memo, name)) for name in expected)  # something to drop
    same = memo.trim(keep)
    assert same is memo
    for name, readings in expected.items():
        assert getattr(memo, name) == readings
        assert list(getattr(memo, name)) == list(readings)
