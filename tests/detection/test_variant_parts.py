"""``assembly.variants`` joins each member's part, worked out on its own (``assembly._render``),
instead of copying the kept ranges into one growing text: the same texts and segments.

``_variants_copied`` below is the former loop, kept as the reference; the two are compared on
the hand-written cases, on filler-laden, padded, glued and empty pieces, and on generated text.
"""

from __future__ import annotations

import random

from pipeline.detection import assembly, languages
from tests.detection.cases import NEGATIVES, POSITIVES


def _variants_copied(texts, members, ranges_of=assembly.kept_ranges):
    """The former ``assembly.variants``: ranges copied one by one into the variant's text."""
    for drop_fillers in (False, True):
        pieces = [(*assembly.kept_piece(texts[i], drop_fillers, ranges_of), i) for i in members]
        pieces = [p for p in pieces if p[0]]
        glued = [assembly._glues(a[0], b[0]) for a, b in zip(pieces, pieces[1:], strict=False)]
        if not drop_fillers and not any(glued):
            continue
        text, segments = "", []
        for k, (_, ranges, index) in enumerate(pieces):
            if k and not glued[k - 1]:
                text += " "
            source = texts[index]
            for r, (s, e) in enumerate(ranges):
                if k and glued[k - 1] and r == 0:
                    s = s + len(source[s:e]) - len(source[s:e].lstrip())
                if r == len(ranges) - 1 and k + 1 < len(pieces) and glued[k]:
                    e = s + len(source[s:e].rstrip())
                if s < e:
                    segments.append((len(text), index, s, e - s))
                    text += source[s:e]
                if r < len(ranges) - 1 and not text.endswith(" "):
                    text += " "
        yield text, segments


TEXTS = [text for text, _ in POSITIVES] + list(NEGATIVES)
PIECES = TEXTS + [
    "first part: ZN4W", "EMWJHX", "SJP6 — that's the card", "stacker", "mike_88, PM there", "my id starts yinbi",
    "then _2024", "then a dot and harlan", "and then the usual at example dot com", "  padded  ", "", "   ",
    "the", "and then", "the  rest  is   here ", "\tit's the\tname ", "name: a_b_", "_tail", "ends with a.",
    "No scratches at all.", "No, sold", "code: ZN4W", "0000", "A1B2", "x-", "-y", "primero luego después",
]


def _generated(rng: random.Random) -> str:
    fillers = sorted(languages.VOCABULARY.fillers)
    words = ["rick", "harlan", "dot", "com", "at", "ZN4W", "mike_88", "_2024", "9400", "a", "the", "—", ",", ":",
             "stacker", "PM", "there", "  ", "x.y", "@", "."]
    parts = [rng.choice(fillers + words) for _ in range(rng.randint(0, 7))]
    separators = [" ", "  ", ", ", ": ", "\t", "", " - "]
    text = "".join(p + rng.choice(separators) for p in parts)
    return rng.choice(["", " ", "  "]) + text + rng.choice(["", " ", "\t"])


def _compare(texts: list[str], members: list[int]) -> int:
    built = [(v.text, v.segments) for v in assembly.variants(texts, members)]
    assert built == list(_variants_copied(texts, members)), texts
    return len(built)


def test_variants_are_the_copied_ones_on_the_cases():
    rng = random.Random(5)
    built = 0
    for _ in range(4000):
        texts = [rng.choice(PIECES) for _ in range(rng.randint(1, 5))]
        built += _compare(texts, list(range(len(texts))))
    assert built > 4000


def test_variants_are_the_copied_ones_on_generated_text():
    rng = random.Random(9)
    built = glued = 0
    for _ in range(4000):
        texts = [_generated(rng) if rng.random() < 0.7 else rng.choice(PIECES) for _ in range(rng.randint(2, 5))]
        members = sorted(rng.sample(range(len(texts)), rng.randint(1, len(texts))))
        built += _compare(texts, members)
        glued += sum(1 for _ in _variants_copied(texts, members)) == 2  # the no-filler variant only exists when glued
    assert built > 4000 and glued > 100  # boundaries really were glued


def test_a_finding_is_placed_in_the_same_messages():
    texts = ["first name rick", "then a dot and harlan", "and then the usual at example dot com"]
    variant = list(assembly.variants(texts, [0, 1, 2]))[-1]
    reference_text, reference_segments = list(_variants_copied(texts, [0, 1, 2]))[-1]
    assert variant.text == reference_text == "rick dot harlan at example dot com"
    assert variant.segments == reference_segments
    spans = variant.locate(0, len(variant.text))
    assert [(s.message, texts[s.message][s.start : s.end]) for s in spans] == [
        (0, "rick"), (1, "dot and harlan"), (2, "at example dot com")]


def _odd_ranges(text: str, drop_fillers: bool) -> list[tuple[int, int]]:
    """Ranges ``kept_ranges`` never gives (empty, starting or ending in whitespace), the same for the same text."""
    rng = random.Random(f"{text}|{drop_fillers}")
    cuts = sorted(rng.randint(0, len(text)) for _ in range(rng.randint(0, 6)))
    return [(a, b) for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True) if rng.random() < 0.8]


def test_variants_are_the_copied_ones_with_any_ranges():
    # ``variants`` takes its ranges from the caller: a member's part must not depend on the
    # ranges being the stripped, non-empty ones ``kept_ranges`` gives (the space kept between two
    # ranges looks at what the variant ends with, even across an empty range or member part).
    rng = random.Random(13)
    built = 0
    for _ in range(4000):
        texts = [_generated(rng) if rng.random() < 0.7 else rng.choice(PIECES) for _ in range(rng.randint(2, 5))]
        members = list(range(len(texts)))
        got = [(v.text, v.segments) for v in assembly.variants(texts, members, _odd_ranges)]
        assert got == list(_variants_copied(texts, members, _odd_ranges)), texts
        built += len(got)
    assert built > 4000
