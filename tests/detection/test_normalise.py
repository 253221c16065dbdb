"""Normalisation folds disguises and keeps a map back to the original offsets."""

from __future__ import annotations

from pipeline.detection.normalise import normalise


def test_ascii_text_is_unchanged_with_identity_offsets() -> None:
    folded = normalise("would you do 1,390?")
    assert folded.text == "would you do 1,390?"
    assert folded.to_original(3, 6) == (3, 6)


def test_invisible_characters_are_removed_and_offsets_skip_them() -> None:
    original = "9\u200b1\u00ad9\u2060x"
    folded = normalise(original)
    assert folded.text == "919x"
    assert folded.to_original(0, 3) == (0, 5)


def test_unicode_digits_fold_to_ascii() -> None:
    for original in ("\uff17\uff12\uff10", "\u096d\u0968\u0966", "\u0667\u0662\u0660", "\U0001d7d5\U0001d7d0\U0001d7ce",
                     "\u2466\u2461\u24ea", "7\ufe0f\u20e32\ufe0f\u20e30\ufe0f\u20e3"):
        assert normalise(original).text == "720", ascii(original)


def test_homoglyphs_in_latin_words_fold_but_real_cyrillic_stays() -> None:
    assert normalise("gm\u0430il").text == "gmail"
    assert normalise("\u0421\u043f\u0430\u0441\u0438\u0431\u043e").text == "\u0421\u043f\u0430\u0441\u0438\u0431\u043e"


def test_spaced_letters_and_spelled_punctuation_join() -> None:
    assert normalise("w w w . s h o p . c o m").text == "www.shop.com"
    assert normalise("bob (at) mail [dot] com").text == "bob@mail.com"
    assert normalise("g-m-a-i-l").text == "gmail"


def test_rewritten_spans_map_to_the_whole_original_form() -> None:
    original = "bob (at) mail"
    folded = normalise(original)
    at = folded.text.index("@")
    assert original[slice(*folded.to_original(at, at + 1))] == " (at) "


def test_rtl_override_and_controls_do_not_survive() -> None:
    folded = normalise("\u202eabc\x00\x07def")
    assert "\u202e" not in folded.text and "\x00" not in folded.text
