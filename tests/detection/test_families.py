"""Evasion families of issue 15, each tested on generated variants and on generated trade chat.

Every test builds its sentences from parts (the vocabulary file, random names and numbers, a few
neutral frames); none is a corpus sentence. A family passes when its generated variants are found
with the right value and the trade chat around the same words stays silent.
"""

from __future__ import annotations

import base64
import json
import pkgutil

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.detection import scan_text
from pipeline.detection.decoders import NATO
from pipeline.detection.payments import RAILS

DATA = json.loads(pkgutil.get_data("pipeline.detection", "data/languages.json").decode("utf-8"))["languages"]
EN = DATA["en"]
SETTINGS = settings(max_examples=30, deadline=None, database=None)
USER = st.from_regex(r"[a-z]{3,9}(?:_[a-z]{2,6})?[0-9]{0,2}", fullmatch=True)


def _kinds(text: str) -> dict[str, set[str | None]]:
    out: dict[str, set[str | None]] = {}
    for finding in scan_text(text):
        out.setdefault(finding.kind, set()).add(finding.value)
    return out


# --- payment rails per language -------------------------------------------------------------

# Rails that are ordinary words on their own need a proposal around them (see languages._WEAK_RAILS).
WEAK_RAILS = {"bank_transfer", "card_transfer"}
ENGLISH_RAILS = {r.name for r in RAILS}
LANGS_OF: dict[str, set[str]] = {}
for _lang, _entry in DATA.items():
    for _words in _entry.get("rails", {}).values():
        for _word in _words:
            LANGS_OF.setdefault(_word, set()).add(_lang)
RAIL_WORDS = sorted(
    (lang, rail, word) for lang, entry in DATA.items() for rail, words in entry.get("rails", {}).items()
    for word in words if rail not in WEAK_RAILS and len(word) > 3
)


@pytest.mark.parametrize(("lang", "rail", "word"), RAIL_WORDS, ids=[f"{lang}-{word}" for lang, _, word in RAIL_WORDS])
def test_every_rail_word_of_the_file_proposes_a_payment_with_its_language(lang, rail, word):
    found = [f for f in scan_text(f"{word} 👍") if f.kind == "payment"]
    assert found, word
    if lang != "en" and rail not in ENGLISH_RAILS and not any(f.lang is None for f in found):
        assert {f.lang for f in found} & LANGS_OF[word], (word, found)


@pytest.mark.parametrize("lang", sorted(lang for lang in DATA if DATA[lang].get("rails")))
def test_a_rail_in_a_question_about_the_checkout_stays_clean(lang):
    rails = [w for rail, words in DATA[lang]["rails"].items() if rail not in WEAK_RAILS for w in words if len(w) > 3]
    for word in rails[:4]:
        assert _kinds(f"does the checkout take {word}?").get("payment") is None, word


# --- apps described instead of named ---------------------------------------------------------

RIDDLES = sorted((app, word) for app, words in EN["app_riddles"].items() for word in words if app != "marketplace")
NOUNS = [n for n in EN["app_nouns"] if n not in ("apps", "platform", "network")]


@pytest.mark.parametrize(("app", "riddle"), RIDDLES)
@SETTINGS
@given(noun=st.sampled_from(NOUNS), user=USER, frame=st.sampled_from([
    "the {r} {n}, I'm {u} there", "find me on the {n} {r}: {u}", "hit me up on the {r} {n}, {u}",
    "{u} on the {r} {n}", "on that {r} {n} I'm {u}",
]))
def test_an_app_described_by_its_icon_or_owner_is_found(app, riddle, noun, user, frame):
    text = frame.format(r=riddle, n=noun, u=user)
    assert app in _kinds(text).get("handle", set()) or any(v and v.startswith(app) for v in _kinds(text).get("handle", ())), text


@pytest.mark.parametrize(("app", "riddle"), RIDDLES)
@SETTINGS
@given(year=st.integers(1850, 2025), grams=st.integers(1, 999), frame=st.sampled_from([
    "the {r} on the reverse is sharp, {y} issue", "{r} privy, {g} g, struck in {y}", "a {r} design, mintage {g},000",
    "lovely {r} motif on the {y} round, {g} g", "the {r}. app photos don't do it justice",
]))
def test_the_same_words_describing_a_coin_stay_clean(app, riddle, year, grams, frame):
    text = frame.format(r=riddle, y=year, g=grams)
    assert "handle" not in _kinds(text), text


# --- app names used as verbs, two-letter labels ------------------------------------------------

@SETTINGS
@given(app=st.sampled_from(["snap", "tg"]), tail=st.sampled_from(["", " later", " tonight", ", it's {u}", " pls, {u}"]), user=USER)
def test_an_app_name_used_as_a_verb_is_a_handle(app, tail, user):
    text = f"{app} me" + tail.format(u=user)
    assert _kinds(text).get("handle"), text


@SETTINGS
@given(what=st.sampled_from(["a pic", "a photo of the reverse", "the obverse", "some close ups", "both sides"]))
def test_asking_for_a_snapshot_stays_clean(what):
    assert _kinds(f"can you snap me {what}?").get("handle") is None


@SETTINGS
@given(label=st.sampled_from(["sc", "dc"]), user=USER)
def test_two_letter_short_forms_with_a_name_are_handles(label, user):
    app = {"sc": "snapchat", "dc": "discord"}[label]
    assert f"{app}:{user}" in _kinds(f"{label}: {user}").get("handle", set())


@pytest.mark.parametrize("text", ["ships from DC on monday, order 44120", "SC mint mark on this one", "1 oz from a DC coin show"])
def test_state_and_city_abbreviations_stay_clean(text):
    assert scan_text(text) == []


# --- area codes named by place ---------------------------------------------------------------

def _valid(code: str, rest: int) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(f"{code}{rest:07d}", "US"))


PLACES = sorted(place for place in EN["area_codes"] if len(place) > 3)


@pytest.mark.parametrize("place", PLACES)
@settings(max_examples=8, deadline=None, database=None)
@given(rest=st.integers(2_000_000, 9_999_999), frame=st.sampled_from([
    "area code same as {p}, then {a} {b}", "the {p} area code, then {a}-{b}", "area code is the one for {p}, rest is {a} {b}",
]))
def test_an_area_code_named_by_its_place_is_read(place, rest, frame):
    code = EN["area_codes"][place]
    assume(_valid(code, rest))
    digits = f"{rest:07d}"
    text = frame.format(p=place.title(), a=digits[:3], b=digits[3:])
    assert f"+1{code}{digits}" in _kinds(text).get("phone", set()), text


@settings(max_examples=40, deadline=None, database=None)
@given(place=st.sampled_from(PLACES), n=st.integers(100_000, 999_999), d=st.integers(1, 28), m=st.integers(1, 12))
def test_places_and_numbers_in_trade_chat_stay_clean(place, n, d, m):
    text = f"ships from {place.title()} on {m}/{d}, order {n}, area code on the label is smudged"
    assert scan_text(text) == [], text


# --- names to look up elsewhere ----------------------------------------------------------------

WORD = st.from_regex(r"[A-Z][a-z]{2,8}", fullmatch=True)


@SETTINGS
@given(first=WORD, second=WORD, suffix=st.sampled_from(["Bullion", "Coins", "Metals", "Coin Exchange", "Numismatics"]),
       verb=st.sampled_from(["google", "search for", "look up"]))
def test_a_shop_name_to_look_up_is_a_handle(first, second, suffix, verb):
    text = f"just {verb} {first} {second} {suffix} and order from me there"
    assert f"search:{first} {second} {suffix}".lower() in _kinds(text).get("handle", set()), text


@SETTINGS
@given(year=st.integers(1850, 2025), coin=st.sampled_from(["Morgan", "Peace dollar", "Mercury dime", "Maple Leaf"]))
def test_looking_up_facts_about_a_coin_stays_clean(year, coin):
    assert scan_text(f"google the {year} {coin} mintage, it's low") == []


@SETTINGS
@given(user=st.from_regex(r"[a-z]{3,8}_[a-z]{3,8}", fullmatch=True), tail=st.sampled_from(["pm me there", "cheaper over there", "find me"]))
def test_a_reddit_user_offered_as_a_place_is_a_handle(user, tail):
    assert f"reddit:u/{user}" in _kinds(f"I'm u/{user}, {tail}").get("handle", set())


@SETTINGS
@given(sub=st.from_regex(r"[a-z]{4,10}", fullmatch=True), year=st.integers(2010, 2025))
def test_hearing_of_something_on_a_subreddit_stays_clean(sub, year):
    assert scan_text(f"I saw this variety on r/{sub} back in {year}") == []


# --- cash handed over in person ------------------------------------------------------------------

@SETTINGS
@given(place=st.sampled_from(["the Walmart parking lot", "a coffee shop downtown", "the bank lobby", "my place"]),
       when=st.sampled_from(["saturday", "tomorrow", "after work", "tonight"]))
def test_cash_at_a_meeting_is_a_payment(place, when):
    assert "cash_meetup" in _kinds(f"cash at {place} {when}, no fees").get("payment", set())


@SETTINGS
@given(year=st.integers(1980, 2024), place=st.sampled_from(["a coin show", "the local shop", "an estate sale"]))
def test_stories_about_paying_cash_stay_clean(year, place):
    assert scan_text(f"I paid cash at {place} back in {year} for this one") == []


# --- reshaped text ---------------------------------------------------------------------------------

PHONES = st.builds(lambda a, b: f"{a}555{b:04d}", st.sampled_from(["415", "212", "617", "303"]), st.integers(100, 199))
PIG = {"0": "erozay", "1": "oneway", "2": "otway", "3": "eethray", "4": "ourfay", "5": "ivefay", "6": "ixsay", "7": "evensay",
       "8": "eightay", "9": "inenay"}


@SETTINGS
@given(PHONES, st.sampled_from("abcdefghjkmnpqrtuvwxyz"))
def test_any_letters_between_digits_are_skipped_without_a_cue_word(number, filler):
    text = "my cell, drop every second char: " + filler.join(number)
    assert f"+1{number}" in _kinds(text).get("phone", set()), text


@SETTINGS
@given(PHONES)
def test_pig_latin_digits_including_vowel_words_are_read(number):
    text = "allcay: " + " ".join(PIG[d] for d in number)
    assert f"+1{number}" in _kinds(text).get("phone", set()), text


@SETTINGS
@given(PHONES, st.sampled_from(["base64", "b64", "in base64:"]))
def test_base64_named_by_its_digit_bearing_word_is_decoded(number, word):
    text = f"{word} " + base64.b64encode(f"call {number}".encode()).decode()
    assert f"+1{number}" in _kinds(text).get("phone", set()), text


@SETTINGS
@given(USER.filter(lambda u: u.isalpha()), st.sampled_from(["tg", "snap", "ig"]))
def test_a_name_spelled_in_the_nato_alphabet_after_an_app_label(user, app):
    words = {v: k for k, v in NATO.items() if k.isalpha()}
    text = f"{app} name in NATO: " + " ".join(words[c] for c in user)
    handles = _kinds(text).get("handle", set())
    assert any(v and v.endswith(":" + user) for v in handles), (text, handles)


# --- other languages: scripts new to the file ------------------------------------------------------

@pytest.mark.parametrize("lang", ["ar", "ko", "tl", "sw", "id"])
def test_each_new_language_names_an_app_or_rail_with_its_tag(lang):
    entry = DATA[lang]
    words = [w for words in entry.get("apps", {}).values() for w in words] + [
        w for rail, words in entry.get("rails", {}).items() if rail not in WEAK_RAILS for w in words]
    found = [f for f in scan_text(f"{words[0]} 👍") if f.kind in ("handle", "payment")]
    assert found and found[0].lang == lang


@pytest.mark.parametrize("text", [
    "Preço 320 reais, envio pelos Correios, pago pelo site.",
    "El Centenario pesa 37,5 g, lo dejo en 52,000 MXN, pago por la plataforma.",
    "Ödeme site üzerinden, kargo 3 gün, 31,1 g.",
    "Bei Fragen hier schreiben, Versand am 14.12., 31,1 g Feingold.",
])
def test_trade_chat_in_the_languages_stays_clean(text):
    assert scan_text(text) == []


# --- letters spaced out with dots or stars, and short forms placed as apps --------------------------

@SETTINGS
@given(app=st.sampled_from(["whatsapp", "telegram", "signal", "snapchat"]), sep=st.sampled_from([".", "*", "-", " "]),
       tail=st.sampled_from([" me", " me pls", " me later"]))
def test_an_app_name_spelled_out_with_any_one_separator_is_found(app, sep, tail):
    assert app in _kinds(sep.join(app) + tail).get("handle", set())


@pytest.mark.parametrize("text", ["U.S.A. minted, 1 oz", "shipped via U.P.S. at 4 p.m.", "I.N.G.O.T. stamp on the bar, 999.9",
                                  "I'm on SC time, will ship monday"])
def test_dotted_abbreviations_and_states_stay_clean(text):
    assert scan_text(text) == []


@pytest.mark.parametrize(("text", "value"), [("add me on sc — {u}", "snapchat"), ("u on dc? I'm {u}", "discord")])
@SETTINGS
@given(user=USER)
def test_a_short_form_after_on_is_an_app(text, value, user):
    assert value in {v.split(":")[0] for v in _kinds(text.format(u=user)).get("handle", set()) if v}
