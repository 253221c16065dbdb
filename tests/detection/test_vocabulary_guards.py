"""Negators, trade words, checkout and via words of other languages, and area codes told as sums
(round 2, session 7).

Each rule is checked on variants generated from the data file's own lists (negators with every
off_platform phrase of their language, trade words before generated digits...), each with a
control that fires without the guard word, so a test fails if the guard stops mattering or the
detection behind it stops firing. None is a sentence of a held-out set.
"""

from __future__ import annotations

import json
import pkgutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.detection import scan_text
from pipeline.detection.context import negates, through_checkout
from pipeline.detection.languages import VOCABULARY, _fold

DATA = json.loads(pkgutil.get_data("pipeline.detection", "data/languages.json").decode("utf-8"))["languages"]
SETTINGS = settings(max_examples=30, deadline=None, database=None)


def _intents(text: str) -> list[str]:
    return [f.value for f in scan_text(text) if f.kind == "intent"]


def _own_phrases(lang: str) -> list[str]:
    """off_platform phrases the vocabulary reads as this language's, that fire alone."""
    out = []
    for phrase in DATA[lang].get("off_platform", ()):
        entry = VOCABULARY.phrases.get(_fold(phrase))
        if entry is not None and entry.lang == lang and _intents(phrase + " 🙂"):
            out.append(phrase)
    return out


NEGATING = [lang for lang, e in DATA.items() if e.get("negators") and _own_phrases(lang)]


@pytest.mark.parametrize("lang", NEGATING)
def test_a_negator_of_the_language_before_a_leaving_phrase_makes_it_a_warning(lang):
    phrases = _own_phrases(lang)

    @SETTINGS
    @given(st.sampled_from(DATA[lang]["negators"]), st.sampled_from(phrases))
    def check(negator, phrase):
        assert _intents(f"{phrase} 🙂"), phrase  # the control: the phrase alone proposes leaving
        assert _intents(f"{negator} {phrase}") == [], (negator, phrase)

    check()


def test_every_negator_and_late_negator_is_read():
    for lang, entry in DATA.items():
        for word in entry.get("negators", ()):
            assert negates(f"x {word} y") or negates(f"x {_fold(word)} y"), (lang, word)
    assert not negates("the price is non-negotiable")  # "non-" starts a word, it negates nothing
    # Cyrillic "не" folds to its Latin look-alike only inside Cyrillic text: English "he" is no negator.
    assert not negates("he said") and negates("не пиши")
    assert not negates("i-GCash mo sakin")  # Tagalog "to me", not Turkish "sakın"


def test_a_late_negator_after_a_leaving_phrase_makes_it_a_warning():
    for phrase, negator in [("platform ke bahar payment", "mat karna"), ("site dışında ödeme", "yapmayın")]:
        assert _intents(phrase + " karo" if "bahar" in phrase else phrase + " yapalım"), phrase
        assert _intents(f"{phrase} {negator}") == [], (phrase, negator)


def test_a_fee_word_after_a_negator_is_still_the_dodge():
    # "non paghiamo la commissione": not paying the fee is the proposal, not a refusal of it.
    for lang in ("it", "id"):
        entry = DATA[lang]
        fee, avoider = entry["fee_words"][0], entry["fee_avoiders"][0]
        for negator in entry["negators"][:3]:
            text = f"{avoider} {fee}, {negator} {fee}"
            assert any(f.value == "fee_avoidance" for f in scan_text(text)), text


TRADE = [(lang, w) for lang, e in DATA.items() for w in e.get("trade_words", ())]


@pytest.mark.parametrize(("lang", "word"), TRADE, ids=[f"{lang}-{i}" for i, (lang, _) in enumerate(TRADE)])
def test_a_trade_word_guards_the_digits_after_it(lang, word):
    # A nine-digit national number said with the language's own phone cue is a phone; the same
    # digits after a trade word ("przesyłki", "takip", "单号") are the parcel's.
    cue = next((c for c in DATA[lang].get("phone_cues", ()) if c.isascii() and " " not in c), None)
    regions = DATA[lang].get("phone_regions", ())
    if cue is None or not regions:
        pytest.skip("no single-word phone cue to make the control fire")
    import phonenumbers

    example = phonenumbers.example_number_for_type(regions[0], phonenumbers.PhoneNumberType.MOBILE)
    digits = phonenumbers.national_significant_number(example)
    national = ("0" if regions[0] not in ("ES", "PL", "IT", "CN", "TW", "SA", "AE") else "") + digits
    control = scan_text(f"{cue} {national}")
    if not any(f.kind == "phone" for f in control):
        pytest.skip(f"the cue {cue!r} does not read {national} alone")
    assert not any(f.kind == "phone" for f in scan_text(f"{cue} {word} {national}")), (cue, word, national)


VIA = [(lang, v, c) for lang, e in DATA.items() for v in e.get("via_words", ()) for c in e.get("checkout_words", ())]


@pytest.mark.parametrize(("lang", "via", "checkout"), VIA, ids=[f"{lang}-{i}" for i, (lang, _, _) in enumerate(VIA)])
def test_a_via_word_and_a_checkout_word_route_the_clause_through_the_platform(lang, via, checkout):
    assert through_checkout(f"{via} {checkout}"), (via, checkout)
    assert through_checkout(f"{checkout} {via}"), (checkout, via)
    assert not through_checkout(f"{via} one two three four {checkout}"), "too far apart"
    assert not through_checkout(f"not {via} {checkout}"), "negated"


def test_a_rail_paid_through_the_checkout_in_another_language_is_no_proposal():
    for _lang, via, checkout in VIA[:: max(1, len(VIA) // 20)]:
        assert any(f.value == "paypal" for f in scan_text("PayPal please")), "control"
        text = f"PayPal {via} {checkout}"
        assert not any(f.value == "paypal" for f in scan_text(text)), text


@SETTINGS
@given(st.integers(min_value=201, max_value=989), st.integers(min_value=0, max_value=9999), st.sampled_from(["+", "plus"]))
def test_an_area_code_told_as_a_sum_is_worked_out(code, line, op):
    import phonenumbers

    number = f"{code}555{line:04d}"
    if not phonenumbers.is_valid_number(phonenumbers.parse(number, "US")):
        return
    low = code // 2
    text = f"area code is {low} {op} {code - low}, then 555 {line:04d}, text me"
    assert "+1" + number in [f.value for f in scan_text(text) if f.kind == "phone"], text


@SETTINGS
@given(st.integers(min_value=101, max_value=494))
def test_an_area_code_doubled_or_halved_is_worked_out(code):
    for told, value in ((f"{code} doubled", 2 * code), (f"half of {4 * code}", 2 * code)):
        text = f"area code is {told}, then 555 0173, text me"
        phones = [f.value for f in scan_text(text) if f.kind == "phone"]
        import phonenumbers

        if phonenumbers.is_valid_number(phonenumbers.parse(f"{value}5550173", "US")):
            assert f"+1{value}5550173" in phones, text


def test_sums_in_trade_chat_are_not_area_codes():
    assert scan_text("The area code for this mint mark is 2 x 50 and we have 555 of them") == []
    assert scan_text("lot of 200 + 12 rounds, 555 grams total") == []


@pytest.mark.parametrize("prefix", ["070", "072", "073", "076", "079"])
def test_a_swedish_cue_next_to_an_english_one_reads_a_swedish_mobile(prefix):
    number = f"{prefix}-482 19 73"
    swedish = [f for f in scan_text(f"Ring mig på {number}") if f.kind == "phone"]
    assert [f.value for f in swedish] == ["+46" + prefix[1:] + "4821973"], swedish
    assert swedish[0].lang == "sv"
    # The English cue alone keeps the old reading (no Swedish word in the message).
    assert all(f.lang is None for f in scan_text(f"call me on {number}") if f.kind == "phone")
