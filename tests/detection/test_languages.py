"""Other languages and reshaped text: generated variants fire, generated trade chat stays silent.

Numbers are generated (random phone numbers spoken digit by digit or in pairs, in each language of
the data file), as are the reshapings (upside down, tag characters, Morse, NATO, backwards, leet,
interleaved letters, base64); none of the test sentences is taken from a corpus.
"""

from __future__ import annotations

import base64
import json
import pkgutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.detection import scan_text
from pipeline.detection.decoders import MORSE, NATO

DATA = json.loads(pkgutil.get_data("pipeline.detection", "data/languages.json").decode("utf-8"))["languages"]
SPOKEN = [lang for lang, entry in DATA.items() if len(entry["numbers"]) >= 10]


def _digit_words(lang: str) -> dict[int, str]:
    words: dict[int, str] = {}
    for word, value in DATA[lang]["numbers"].items():
        if value < 10:
            words.setdefault(value, word)
    return words


# Numbers valid in the language's first region, written nationally with a trunk 0 where it has one.
SAMPLE_NUMBERS = {
    "pt": "11987654321", "es": "612345678", "fr": "0612345678", "de": "01721234567", "nl": "0612345678",
    "it": "3471234567", "ru": "89161234567", "zh": "13812345678", "ja": "09012345678", "hi": "9876543210",
    "sv": "0701234567", "pl": "512345678", "tr": "05321234567",
}


@pytest.mark.parametrize("lang", sorted(SAMPLE_NUMBERS))
@settings(max_examples=25, deadline=None, database=None)
@given(sep=st.sampled_from([" ", ", ", " - ", "  "]), tail=st.integers(0, 99))
def test_a_phone_number_said_digit_by_digit_is_found_in_each_language(lang, sep, tail):
    digits = SAMPLE_NUMBERS[lang][:-2] + f"{tail:02d}"
    words = _digit_words(lang)
    assert set(range(10)) <= set(words), f"{lang} lacks digit words"
    cue = DATA[lang]["phone_cues"][0]
    text = f"{cue}: " + sep.join(words[int(d)] for d in digits)
    phones = [f for f in scan_text(text) if f.kind == "phone"]
    assert phones, text
    assert phones[0].lang == lang or phones[0].lang is not None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("appelle au zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit", "+33612345678"),
        ("bel me: nul zes, twaalf, vierendertig, zesenvijftig, achtenzeventig", "+31612345678"),
        ("звони: восемь, девятьсот шестнадцать, сто двадцать три, сорок пять, шестьдесят семь", "+79161234567"),
        ("Handy null eins sieben zwei, eins zwei drei, vier fünf sechs sieben", "+491721234567"),
    ],
)
def test_numbers_said_in_groups_are_added_up_exactly(text, value):
    [phone] = [f for f in scan_text(text) if f.kind == "phone"]
    assert phone.value == value
    assert phone.to_json()["evidence"]["lang"] in {"fr", "nl", "ru", "de"}


@pytest.mark.parametrize("lang", [lang for lang, entry in DATA.items() if entry["at"] and entry["dot"]])
@settings(max_examples=15, deadline=None, database=None)
@given(user=st.from_regex(r"[a-z]{3,8}\.[a-z]{2,6}", fullmatch=True), host=st.from_regex(r"[a-z]{4,9}", fullmatch=True))
def test_words_for_at_and_dot_make_an_address_in_each_language(lang, user, host):
    at = DATA[lang]["at"][0]
    dot = DATA[lang]["dot"][0]
    text = f"{user} {at} {host} {dot} com"
    emails = [f for f in scan_text(text) if f.kind == "email"]
    assert [f.value for f in emails] == [f"{user}@{host}.com"], text


@pytest.mark.parametrize("lang", sorted(lang for lang in DATA if DATA[lang]["off_platform"] and lang != "en"))
def test_every_language_has_a_leaving_phrase_that_fires_with_its_tag(lang):
    phrase = DATA[lang]["off_platform"][0]
    found = [f for f in scan_text(f"ok, {phrase}") if f.kind == "intent"]
    assert found and found[0].lang == lang


TRADE = st.sampled_from([
    "PCGS {n8} MS{g}", "cert {n8}, pop {n4}", "tracking 9400 {n4} {n4} {n4} {n4} {n2}", "{n4} oz for ${n4}",
    "shipped {d}/{m}, {w} g", "lot {n4}: {q} x 1 oz @ ${n2}.{n2}", "serial {n6}", "order {n6} total {n4}.{n2}",
    "Preis {n4} €, Versand mit DHL", "precio {n4}, envío {n2} pesos", "prix {n4} €, pièce de {w} g",
    "цена {n4} руб, вес {w} г", "价格 {n4} 元，{w} 克", "{q} pièces de 20 francs, {n4} €",
    "dates {n4} then {n4} then {n4}, {q} coins", "paid {n2}0 then {n4}, cert {n8} then pop {n4}", "lote {n4} luego {n4}, {w} g",
])


@settings(max_examples=400, deadline=None, database=None)
@given(TRADE, st.integers(1000, 9999), st.integers(10_000_000, 99_999_999), st.integers(10, 99), st.integers(100_000, 999_999),
       st.integers(1, 28), st.integers(1, 12), st.integers(1, 99), st.integers(60, 70))
def test_trade_chat_in_any_language_stays_clean(template, n4, n8, n2, n6, d, m, q, g):
    text = template.format(n4=n4, n8=n8, n2=n2, n6=n6, d=d, m=m, q=q, g=g, w=f"{q}.{n2}")
    assert scan_text(text) == [], text


# --- reshaped text ---------------------------------------------------------------------------

UPSIDE = dict(zip("abcdefghijklmnopqrstuvwxyz0123456789", "ɐqɔpǝɟƃɥᴉɾʞlɯuodbɹsʇnʌʍxʎz0ƖᄅƐㄣϛ9ㄥ86", strict=True))
PHONES = st.builds(lambda a, b: f"{a} 555 01{b:02d}", st.sampled_from(["415", "212", "617", "303", "206"]), st.integers(0, 99))


def _expected(number: str) -> str:
    return "+1" + number.replace(" ", "")


@settings(max_examples=60, deadline=None, database=None)
@given(PHONES)
def test_upside_down_number_is_found(number):
    flipped = "".join(UPSIDE.get(c, c) for c in reversed(f"text me {number}"))
    assert _expected(number) in {f.value for f in scan_text(flipped) if f.kind == "phone"}


@settings(max_examples=60, deadline=None, database=None)
@given(PHONES, st.sampled_from(["nice coin", "thanks!", "👍"]))
def test_tag_characters_carry_a_hidden_number(number, visible):
    hidden = "".join(chr(0xE0000 + ord(c)) for c in f"call {number}")
    [phone] = [f for f in scan_text(visible + hidden) if f.kind == "phone"]
    assert phone.value == _expected(number) and phone.decoder == "tag_characters"
    assert phone.start == len(visible)


@settings(max_examples=60, deadline=None, database=None)
@given(PHONES)
def test_morse_number_is_found(number):
    code = {v: k for k, v in MORSE.items()}
    text = "my cell in dots and dashes: " + " / ".join(code[c] for c in number.replace(" ", ""))
    assert _expected(number) in {f.value for f in scan_text(text) if f.kind == "phone"}


@settings(max_examples=60, deadline=None, database=None)
@given(PHONES)
def test_backwards_number_is_found(number):
    text = f"read it backwards: {number[::-1]}"
    assert _expected(number) in {f.value for f in scan_text(text) if f.kind == "phone"}


@settings(max_examples=60, deadline=None, database=None)
@given(PHONES, st.sampled_from("xqkz"))
def test_letters_between_digits_are_skipped(number, filler):
    digits = number.replace(" ", "")
    text = "call, skip the letters: " + filler.join(digits)
    assert _expected(number) in {f.value for f in scan_text(text) if f.kind == "phone"}


@settings(max_examples=60, deadline=None, database=None)
@given(PHONES)
def test_base64_message_is_decoded(number):
    text = base64.b64encode(f"text me {number}".encode()).decode() + " decode it"
    assert _expected(number) in {f.value for f in scan_text(text) if f.kind == "phone"}


@settings(max_examples=40, deadline=None, database=None)
@given(st.from_regex(r"[a-z]{4,8}", fullmatch=True), st.sampled_from(["gmail", "yahoo", "outlook"]))
def test_nato_spelled_mailbox_is_found(user, provider):
    words = {v: k for k, v in NATO.items() if k.isalpha()}
    text = "spell it: " + " ".join(words[c] for c in user) + f" at {provider} dot com"
    assert f"{user}@{provider}.com" in {f.value for f in scan_text(text) if f.kind == "email"}


@pytest.mark.parametrize(
    "text",
    [
        "Graded 7️⃣0️⃣ — 🇺🇸 flag privy, 1 oz",
        "The reverse reads right to left in Hebrew, 1948 issue",
        "Morse-style dots on the rim . . . - - - nice detail",
        "Alpha and Omega on the obverse, Bravo mint",
        "Serial A1B2C3 on the assay card, cert 44192810",
        "I won the lot for $1,200, the coin is a 2021 Eagle",
    ],
)
def test_reshaping_lookalikes_in_trade_chat_stay_clean(text):
    assert scan_text(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "That die pair last sold on Etsy for $95 two weeks ago, so $120 is steep. Would you do $100?",
        "Fun fact: the mint sent the approval by telegram in 1907, the letter is in the archive.",
        "Сто граммов серебра, цена 9 500 руб, отправлю Почтой России.",
    ],
)
def test_past_deals_elsewhere_history_and_russian_trade_chat_stay_clean(text):
    assert scan_text(text) == []


def test_cyrillic_words_of_lookalike_letters_stay_cyrillic_in_russian_text():
    # "сто" (100) is made only of letters that look Latin; in Russian text it must stay a number word.
    [phone] = [f for f in scan_text("звони: восемь, девятьсот шестнадцать, сто двадцать три, сорок пять, шестьдесят семь") if f.kind == "phone"]
    assert phone.value == "+79161234567" and phone.lang == "ru"
    # A disguised Latin word inside Latin text is still unmasked.
    assert [f.value for f in scan_text("my email is stacker@gmаil.com") if f.kind == "email"] == ["stacker@gmail.com"]
