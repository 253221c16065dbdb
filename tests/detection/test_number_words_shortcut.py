"""``languages.number_groups`` skips its big pattern on ASCII text no number word can start in, and
answers exactly as the pattern does (``_number_groups``) everywhere.

Checked on the hand-written cases, on text built from every number word and joiner of the
vocabulary (in every case, glued to digits, underscores and letters, in another script's
spelling ASCII can match: "sıfır" as "SIFIR"), and on generated text.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.detection import languages
from pipeline.detection.languages import VOCABULARY, number_groups
from tests.detection.cases import NEGATIVES, POSITIVES

WORDS = sorted({*VOCABULARY.numbers, *VOCABULARY.joiners})


def _same(text: str) -> list:
    expected = languages._number_groups(text, VOCABULARY)
    assert number_groups(text) == expected, text
    return expected


def test_the_cases():
    found = sum(bool(_same(text)) for text in [t for t, _ in POSITIVES] + list(NEGATIVES))
    assert found > 5


def test_every_number_word_in_every_case_and_neighbourhood():
    found = 0
    for word in WORDS:
        for form in {word, word.upper(), word.capitalize(), word.swapcase()}:
            for text in (form, f"x {form} y", f"7{form}", f"_{form}_", f"{form}s", f"a{form}", f"{form}-{form}",
                         f"call {form} {form}, then {form}"):
                found += bool(_same(text))
    assert found > 1000


def test_other_scripts_spelled_in_ascii():
    # Dotless i matches I and i under IGNORECASE: Turkish "sıfır" is found in "SIFIR" and "sifir".
    ascii_forms = [w for w in VOCABULARY.numbers if not w.isascii() and languages._ascii_matching(w[0]) <= languages._ASCII_LOWER]
    assert ascii_forms
    for word in ascii_forms:
        for text in (word.replace("ı", "i"), word.replace("ı", "I").upper(), word.replace("ı", "i") + " bir iki"):
            _same(text)
    assert number_groups("SIFIR bir iki")


def test_the_shortcut_skips_plain_chat():
    assert not languages._may_hold_number_words("Is the 1 oz Gold Eagle still available? I can pay 2,150 shipped.", VOCABULARY)
    assert languages._may_hold_number_words("mi numero es cinco cinco", VOCABULARY)


def test_random_sentences_of_number_words_and_chat():
    rng = random.Random(6)
    chat = ["is", "the", "coin", "still", "available", "ok", "lot", "oz", "$2,150", "MS65", "thanks!", "then", "and", ",", "-"]
    for _ in range(3000):
        text = " ".join(rng.choice(WORDS if rng.random() < 0.4 else chat) for _ in range(rng.randint(1, 8)))
        if rng.random() < 0.3:
            text = text.upper()
        _same(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS[:60] + WORDS[-60:] + ["a", "b", "1", " ", "-", "_", "ı", "İ", "K", "ſ", "é"]), max_size=12).map("".join))
def test_generated(text):
    _same(text)
