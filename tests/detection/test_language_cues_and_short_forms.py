"""Rules from the eighth set's open leads (round 2, session 7, s7-detect2): words of another language that
look like an English negator, "sig" for Signal, spaced names with a digit suffix, Swedish deal verbs.

Portuguese "no"/"na" mean "on the"/"in the" ("me chama no zap"); before an app or rail name that
the English detectors know, they were read as the English "no" and the mention was dropped. The
data file's ``on_the`` words and ``on_the_cues`` say when they are the preposition. Every case is
generated from the data file's lists and checked against a control with a neutral preposition
("em"), so a test fails if the rule stops mattering or the detection behind it stops firing.
None is a sentence of a held-out set.
"""

from __future__ import annotations

import json
import pkgutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.detection import scan_text
from pipeline.detection.context import is_refused
from pipeline.detection.normalise import normalise

DATA = json.loads(pkgutil.get_data("pipeline.detection", "data/languages.json").decode("utf-8"))["languages"]
SETTINGS = settings(max_examples=40, deadline=None, database=None)
# Names the English handle and payment detectors know (none is a Portuguese vocabulary word).
CHANNELS = ["Telegram", "WhatsApp", "PayPal", "Zelle", "Venmo", "Snapchat", "Viber"]
ON_THE = [(lang, word) for lang, entry in DATA.items() for word in entry.get("on_the", ())]


def _flags(text: str) -> set[str]:
    return {f.kind for f in scan_text(text) if f.kind in ("handle", "payment")}


@pytest.mark.parametrize(("lang", "word"), ON_THE)
def test_on_the_after_a_cue_of_its_language_is_no_negator(lang, word):
    @SETTINGS
    @given(st.sampled_from(DATA[lang]["on_the_cues"]), st.sampled_from(CHANNELS))
    def check(cue, channel):
        text = f"{cue} {word} {channel}"
        start = text.index(channel)
        assert not is_refused(text, start, start + len(channel)), text
        if _flags(f"{cue} em {channel}"):  # the control: the same clause with a neutral preposition fires
            assert _flags(text), text

    check()


def test_the_rule_makes_portuguese_contact_fire_that_was_refused_before():
    # Generated from the lists: at least some cue + "no" + channel fires (otherwise the rule is dead).
    fired = [c for c in DATA["pt"]["on_the_cues"] for ch in CHANNELS if _flags(f"{c} no {ch}")]
    assert len(fired) >= len(DATA["pt"]["on_the_cues"]) // 2


def test_no_on_the_cue_is_an_english_word_once_folded():
    # "tô" was dropped for this: folded it is "to", and "talk to no one on WhatsApp" would lift the "no".
    english = {"to", "me", "no", "na", "on", "in", "i", "a", "is", "my", "so", "do", "go", "talk", "call", "pay", "send"}
    for lang, entry in DATA.items():
        for cue in entry.get("on_the_cues", ()):
            folded = normalise(cue.lower()).text
            assert not set(folded.split()) <= english, (lang, cue)


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    "template",
    [
        "no {} please, the checkout works",  # English "no" first in the clause
        "I said no {} for this deal",  # after a word, but no Portuguese cue
        "sorry no {}",
        "não fala comigo no {}",  # Portuguese: another negator in the clause still refuses
        "nunca me chama no {}",
    ],
)
def test_an_english_or_real_negation_before_the_channel_still_refuses(template, channel):
    text = normalise(template.format(channel)).text  # as the detectors read it: "não" folded to "nao"
    start = text.index(channel)
    assert is_refused(text, start, start + len(channel)), text
    assert not _flags(text), text


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_cue_in_another_clause_does_not_lift_the_negation(channel):
    text = f"fala comigo aqui, no {channel}"
    start = text.index(channel)
    assert is_refused(text, start, start + len(channel)), text


# --- "sig" for Signal (round 2, session 7, s7-detect2): a short form like "ig"/"tg", weak ---------
@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("ping me on sig when you ship", True),  # "on <app>" with a contact word
        ("sig: coin_hoarder9", True),  # a label and a name
        ("i'm on sig most evenings", True),
        ("my sig is in the listing photos", False),  # a forum signature one owns
        ("the sig line on the assay card is smudged", False),
        ("weights to three sig figs", False),
        ("link in my sig has my grading notes", False),
    ],
)
def test_sig_is_signal_only_in_a_contact_context(text, fires):
    handles = [f.value for f in scan_text(text) if f.kind == "handle"]
    assert bool(handles) is fires, (text, handles)
    if fires:
        assert handles[0].startswith("signal")


# --- spaced letters ending in a few spaced digits (round 2, session 7, s7-detect2) ------------------
@pytest.mark.parametrize("provider", ["g m a i l", "yahoo", "h o t m a i l"])
@pytest.mark.parametrize("name", ["s t a c k e r 4", "a u r u m 1 2", "b a r s 9 9 9"])
def test_spaced_name_with_a_digit_suffix_joins_into_the_mailbox(name, provider):
    text = f"write to {name} at {provider}"
    emails = [f.value for f in scan_text(text) if f.kind == "email"]
    assert emails == [f"{name.replace(' ', '')}@{provider.replace(' ', '')}"], (text, emails)


def test_spaced_digits_longer_than_a_suffix_stay_a_phone_number():
    assert normalise("r i n g 4 1 5 5 5 5 0 1 9 8").text == "ring 4 1 5 5 5 5 0 1 9 8"
    phones = [f.value for f in scan_text("text m e 4 1 5 5 5 5 0 1 9 8") if f.kind == "phone"]
    assert phones == ["+14155550198"]
    assert normalise("w a r d 1 2 3 4").text == "ward 1 2 3 4"  # four digits: not a suffix


# --- Swedish "kör vi" / "tar det" next to "privat" (round 2, session 7, s7-detect2) ------------------
@pytest.mark.parametrize("deal", ["kör vi", "vi kör", "vi kan köra det", "vi tar det", "vi gör det"])
def test_a_swedish_deal_verb_next_to_privat_proposes_leaving(deal):
    assert [f.value for f in scan_text(f"{deal} privat, ok?") if f.kind == "intent"] == ["off_platform"]
    assert not [f for f in scan_text(f"{deal} via sajten, ok?") if f.kind == "intent"]  # the control
    assert not [f for f in scan_text(f"{deal} inte privat") if f.kind == "intent"]  # negated
