"""Leaving the platform said in parts, cash meet-ups, compound fees, reversed and rot13 text (issue 15).

Each mechanism is tested on variants generated from the vocabulary file's own word lists and on
random names, numbers and prefixes; none is a corpus sentence. A mechanism passes when every
generated variant fires and the same words in generated trade chat, without their partner, stay silent.
"""

from __future__ import annotations

import codecs
import json
import pkgutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.detection import scan_text
from pipeline.detection.languages import VOCABULARY, _fold

DATA = json.loads(pkgutil.get_data("pipeline.detection", "data/languages.json").decode("utf-8"))["languages"]
SETTINGS = settings(max_examples=40, deadline=None, database=None)
PRICE = st.integers(min_value=2, max_value=4999)


def _kinds(text: str) -> dict[str, set[str | None]]:
    out: dict[str, set[str | None]] = {}
    for finding in scan_text(text):
        out.setdefault(finding.kind, set()).add(finding.value)
    return out


def _own(words: list[str], *roles: str) -> list[str]:
    """The words the vocabulary really reads in one of ``roles`` (a form listed first elsewhere keeps that role)."""
    return [w for w in words if VOCABULARY.phrases.get(_fold(w)) is not None and VOCABULARY.phrases[_fold(w)].role in roles]


LEAVE = [(lang, e) for lang, e in DATA.items() if e.get("leave_words") and e.get("platform_words")]
DIRECT = [(lang, e) for lang, e in DATA.items() if _own(e.get("direct_words", []), "direct") and e.get("deal_words")]
CASH = [(lang, e) for lang, e in DATA.items() if _own(e.get("cash_words", []), "cash") and e.get("meet_words")]


@pytest.mark.parametrize(("lang", "entry"), LEAVE, ids=[lang for lang, _ in LEAVE])
def test_a_leave_word_before_a_platform_word_proposes_leaving(lang, entry):
    leave_words = _own(entry["leave_words"], "leave", "avoider")

    @SETTINGS
    @given(st.sampled_from(leave_words), st.sampled_from(entry["platform_words"]), PRICE)
    def check(leave, platform, price):
        text = f"{platform} {leave} {price}" if entry.get("platform_first") else f"{price}? {leave} {platform}"
        found = [f for f in scan_text(text) if f.kind == "intent"]
        assert found, text
        assert found[0].lang == (None if lang == "en" else lang) or found[0].value != "off_platform" or lang == "en", (text, found)

    check()


@pytest.mark.parametrize(("lang", "entry"), LEAVE, ids=[lang for lang, _ in LEAVE])
def test_a_leave_word_without_its_partner_stays_silent_in_trade_chat(lang, entry):
    leave_words = _own(entry["leave_words"], "leave")

    @SETTINGS
    @given(st.sampled_from(leave_words), PRICE, st.integers(min_value=1, max_value=99))
    def check(leave, price, grams):
        text = f"{price},00 {leave} {grams} g"
        assert scan_text(text) == [], text

    if leave_words:
        check()


@pytest.mark.parametrize(("lang", "entry"), DIRECT, ids=[lang for lang, _ in DIRECT])
def test_a_direct_word_next_to_a_deal_word_proposes_leaving_unless_the_clause_names_the_platform(lang, entry):
    direct_words = _own(entry["direct_words"], "direct")

    @SETTINGS
    @given(st.sampled_from(direct_words), st.sampled_from(entry["deal_words"]), st.sampled_from(entry["platform_words"]), st.booleans())
    def check(direct, deal, platform, deal_first):
        pair = f"{deal} {direct}" if deal_first else f"{direct} {deal}"
        assert "intent" in _kinds(pair + " 🙂"), pair
        staying = f"{pair} {platform}"
        if scan_text(direct) or _fold(pair) in VOCABULARY.phrases:
            return  # the direct word or the pair is a leaving phrase of its own ("off-platform", "privat regeln")
        assert not any(f.kind == "intent" and f.value == "off_platform" for f in scan_text(staying)), staying

    check()


@pytest.mark.parametrize(("lang", "entry"), CASH, ids=[lang for lang, _ in CASH])
def test_cash_next_to_meeting_is_a_cash_meetup_and_cash_alone_is_not(lang, entry):
    cash_words = _own(entry["cash_words"], "cash")

    @SETTINGS
    @given(st.sampled_from(cash_words), st.sampled_from(entry["meet_words"]), PRICE)
    def check(cash, meet, price):
        assert "cash_meetup" in _kinds(f"{price} {cash}, {meet}").get("payment", set()), (cash, meet)
        assert scan_text(f"{price} {cash}. {price + 1} g.") == [], cash

    check()


FEE_PREFIX = st.from_regex(r"[a-z]{4,10}", fullmatch=True)


@pytest.mark.parametrize(("lang", "avoider"), [("de", "ohne"), ("sv", "utan")])
def test_a_fee_glued_into_a_compound_next_to_an_avoider_is_fee_dodging(lang, avoider):
    fees = DATA[lang]["compound_fee_words"]
    exclusions = DATA[lang]["compound_fee_exclusions"]

    @SETTINGS
    @given(FEE_PREFIX, st.sampled_from(fees), st.sampled_from(exclusions), PRICE)
    def check(prefix, fee, excluded, price):
        if prefix.startswith(tuple(exclusions)):
            return
        dodging = f"{price} €, {avoider} {prefix}{fee}"
        assert "fee_avoidance" in _kinds(dodging).get("payment", set()), dodging
        shipping = f"{price} €, {avoider} {excluded}{fee}"
        assert scan_text(shipping) == [], shipping
        far = f"{avoider} Kapsel, {price} €, {prefix}{fee} inklusive"
        assert scan_text(far) == [], far

    check()


# Area codes and exchanges that phonenumbers accepts as US numbers.
AREA = st.sampled_from(["212", "213", "305", "312", "415", "503", "602", "617", "713", "917"])
LINE = st.tuples(AREA, st.integers(min_value=234, max_value=987), st.integers(min_value=1001, max_value=9899).filter(lambda n: n % 100))
CONTACT_FRAME = st.sampled_from(["text me at {n}", "call me {n}", "my cell is {n}", "whatsapp me {n}", "my number {n}"])


@SETTINGS
@given(CONTACT_FRAME, LINE)
def test_a_sentence_written_backwards_is_read_right_to_left(frame, line):
    number = f"{line[0]} {line[1]} {line[2]}"
    text = frame.format(n=number)[::-1]
    phones = [f for f in scan_text(text) if f.kind == "phone"]
    assert phones and phones[0].value == "+1" + number.replace(" ", ""), (text, phones)
    assert phones[0].decoder == "reversed"


TRADE = st.sampled_from(["spot is {a}.{b} today", "{a} coins at {b} each", "cert {a}{b}, grade MS69", "{a} oz, {b} g total"])


@SETTINGS
@given(TRADE, st.integers(min_value=10, max_value=99), st.integers(min_value=10, max_value=99))
def test_trade_chat_backwards_or_in_rot13_stays_silent(frame, a, b):
    sentence = frame.format(a=a, b=b)
    assert scan_text(sentence[::-1] + " (backwards)") == []
    assert scan_text("rot13: " + codecs.encode(sentence, "rot13")) == []


@SETTINGS
@given(st.from_regex(r"[a-z]{3,8}(?:\.[a-z]{2,6})?", fullmatch=True), st.sampled_from(["gmail.com", "proton.me", "outlook.com", "yahoo.com"]),
       st.sampled_from(["rot13", "ROT13", "caesar"]))
def test_an_email_in_rot13_is_decoded(user, domain, word):
    address = f"{user}@{domain}"
    text = f"{word}: " + codecs.encode(f"email me at {address}", "rot13")
    emails = [f for f in scan_text(text) if f.kind == "email"]
    assert emails and emails[0].value == address and emails[0].decoder == "rot13", (text, emails)


PT_APPS = [w for w in DATA["pt"]["apps"]["whatsapp"] + DATA["pt"]["apps"]["instagram"] if len(w) > 2]


@SETTINGS
@given(st.sampled_from(["me chama", "fala comigo", "manda mensagem", "estou"]), st.sampled_from(PT_APPS), st.sampled_from(["no", "na"]))
def test_portuguese_no_before_an_app_is_on_the_not_a_refusal(verb, app, article):
    text = f"{verb} {article} {app}"
    assert "handle" in _kinds(text), text


MARKETS = [w for w in DATA["en"]["apps"]["marketplace"] if len(w) > 3]


@SETTINGS
@given(st.sampled_from(MARKETS), st.sampled_from(["cheaper there", "no fees there", "search my name", "same name"]), PRICE)
def test_a_rival_marketplace_with_an_invitation_is_a_handle_and_talk_about_it_is_not(market, invitation, price):
    assert "handle" in _kinds(f"on {market} tonight, {invitation}"), market
    assert scan_text(f"{market} prices were ${price} last year") == [], market


# "Through"/"via" before the platform, and the negator that turns it round, as members write them.
THROUGH = {"ru": ("через", "не"), "es": ("por", "pero no"), "pt": ("pelo", "não"), "fr": ("via", "pas"), "de": ("über", "nicht"),
           "it": ("tramite", "non"), "sv": ("via", "inte"), "en": ("through", "not")}
# Direct words that are leaving phrases of their own ("напрямую", "en direct", "in privato"): the
# rule that fired on "Оплачу напрямую через сайт" before the platform guard applied to them too.
DIRECT_PHRASES = [(lang, w) for lang, e in DATA.items() if lang in THROUGH
                  for w in e.get("direct_words", []) if _own([w], "off_platform")]


def test_some_direct_words_are_leaving_phrases_of_their_own():
    assert {"ru", "fr", "it"} <= {lang for lang, _ in DIRECT_PHRASES}, DIRECT_PHRASES


@pytest.mark.parametrize(("lang", "direct"), DIRECT_PHRASES, ids=[f"{lang}-{w}" for lang, w in DIRECT_PHRASES])
def test_a_direct_leaving_phrase_stays_silent_through_the_platform_and_fires_outside_it(lang, direct):
    entry = DATA[lang]
    through, negator = THROUGH[lang]
    leave_words = _own(entry["leave_words"], "leave", "avoider")

    @SETTINGS
    @given(st.sampled_from(entry["deal_words"]), st.sampled_from(entry["platform_words"]), st.sampled_from(leave_words), PRICE, st.booleans())
    def check(deal, platform, leave, price, deal_first):
        said = f"{deal} {direct}" if deal_first else f"{direct} {deal}"
        assert "intent" in _kinds(f"{price}, {said}"), said
        staying = f"{price}, {said} {through} {platform}"
        assert not any(f.kind == "intent" for f in scan_text(staying)), staying
        for leaving in (f"{price}, {said}, {negator} {through} {platform}", f"{price}, {said} {leave} {platform}"):
            assert "intent" in _kinds(leaving), leaving

    check()


@pytest.mark.parametrize(("lang", "entry"), DIRECT, ids=[lang for lang, _ in DIRECT])
def test_a_direct_word_through_the_platform_stays_silent_and_not_through_it_fires(lang, entry):
    direct_words = _own(entry["direct_words"], "direct")
    through, negator = THROUGH.get(lang, ("", ""))

    @SETTINGS
    @given(st.sampled_from(direct_words), st.sampled_from(entry["deal_words"]), st.sampled_from(entry["platform_words"]), st.booleans())
    def check(direct, deal, platform, deal_first):
        pair = f"{deal} {direct}" if deal_first else f"{direct} {deal}"
        if scan_text(direct) or _fold(pair) in VOCABULARY.phrases:
            return  # a leaving phrase of its own ("off-platform", "privat regeln")
        staying = f"{pair} {through} {platform}"
        assert not any(f.kind == "intent" and f.value == "off_platform" for f in scan_text(staying)), staying
        leaving = f"{pair}, {negator} {through} {platform}"
        assert "intent" in _kinds(leaving), leaving

    if lang in THROUGH:
        check()
