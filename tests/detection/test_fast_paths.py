"""The speed rewrites of detection patterns answer exactly as the patterns they replaced.

Several patterns were rewritten to start with one character class (the regex engine then skips
from candidate to candidate) or are guarded by a cheaper hint; each is checked here against the
original, kept verbatim below, on generated text built from the characters that matter.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.detection import emails, gates, normalise, payments, scanner, urls

PIECES = st.sampled_from(
    list("aAbBzZxX019 .-@$|([<{\t\n\x01&_") + [" at ", " dot ", "_at_", "_AT_", "_dot_", " com", "gmail", "bc1", "BC1", "ltc1", "0x", "GB", "DE89", "1Z", "w w w"]
)
TEXTS = st.lists(PIECES, max_size=40).map("".join)
HEXISH = st.lists(st.sampled_from(list("0123456789abcdefABCDEFxLTMD13bcBCqpz _.\u00e9") + ["0x", "bc1", "ltc1", "a" * 24, "a" * 12]),
                  max_size=60).map("".join)

OLD_JUNCTION = re.compile(r"[a-z][0-9@$|]|[0-9@$|][a-z]")
OLD_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
# Crypto addresses are now found as any long alphanumeric token (their checksum decides), so
# the class-first token pattern is checked against the plain one with lookarounds on both sides.
PLAIN_LONG_TOKEN = re.compile(r"(?<![0-9A-Za-z_])[0-9A-Za-z]{25,106}(?![0-9A-Za-z_])")
OLD_DOT_BETWEEN = re.compile(r"[A-Za-z0-9-]\.[A-Za-z]")
OLD_DOT_INSIDE_WORD = re.compile(r"[a-z0-9-]\.[a-z]")
# The original, plus the "_at_"/"_dot_" forms added after the rewrite.
OLD_LINK_MARKERS = re.compile(r"[(\[{<@]| (?i:dot|slash|\.) | \.[a-z]|\. com\b|_(?i:at|dot)_")


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


@settings(max_examples=600, deadline=None)
@given(TEXTS)
def test_class_first_gates_agree_with_the_originals(text):
    lowered = text.lower()
    assert bool(gates._MIXED_JUNCTION.search(lowered)) == bool(OLD_JUNCTION.search(lowered))
    assert bool(urls._DOT_BETWEEN.search(text)) == bool(OLD_DOT_BETWEEN.search(text))
    assert bool(scanner._DOT_INSIDE_WORD.search(lowered)) == bool(OLD_DOT_INSIDE_WORD.search(lowered))
    assert bool(normalise._LINK_MARKERS.search(text)) == bool(OLD_LINK_MARKERS.search(text))


@settings(max_examples=600, deadline=None)
@given(HEXISH)
def test_identifier_patterns_find_the_same_spans(text):
    assert _spans(payments._IBAN, text) == _spans(OLD_IBAN, text)
    assert _spans(payments.LONG_TOKEN, text) == _spans(PLAIN_LONG_TOKEN, text)
    if not payments.may_hold_long_token(text):
        assert payments.LONG_TOKEN.search(text) is None


@settings(max_examples=600, deadline=None)
@given(TEXTS)
def test_hints_are_necessary_conditions(text):
    # Without the spaced-letters hint the spaced-letters pass changes nothing; without the
    # any-work hint an ASCII message comes out of normalise unchanged.
    if not normalise._SPACED_HINT.search(text):
        assert normalise._SPACED_LETTERS.search(text) is None
    if text.isascii() and not normalise._ANY_WORK.search(text):
        assert normalise.normalise(text).text == text
    # "name at domain" is only looked for when its hint matches; it must never hide a finding.
    if not emails._AT_HINT.search(text):
        assert emails._spelled(text, ("peermetals.com",)) == []


def test_the_spelled_at_form_is_still_found():
    assert [h.value for h in emails._spelled("write to jo.smith at gmail.", ("peermetals.com",))] == ["jo.smith@gmail"]


OLD_SWAP_NEAR_DIGIT = re.compile(r"[0-9][OoIl|]|[OoIl|][0-9]|[0-9][\s.\-]+[OoIl|]\b|\b[OoIl|][\s.\-]+[0-9]|[0-9][SBZ][0-9]")
SWAPPY = st.lists(st.sampled_from(list("0123OoIl|SBZxa .-\t") + ["O2", "l8", " o ", "|-"]), max_size=30).map("".join)


@settings(max_examples=800, deadline=None)
@given(SWAPPY)
def test_swap_gate_agrees_with_the_original(text):
    from pipeline.detection import phones

    assert phones._swap_near_digit(text) == bool(OLD_SWAP_NEAR_DIGIT.search(text))


# Decoder gates (branch s4-detspeed): the originals, verbatim, against the rewrites.
OLD_INTERLEAVED = re.compile(r"(?<![A-Za-z0-9])(?:[0-9][^\s0-9]{1,2}){6,}[0-9](?![A-Za-z0-9])")
OLD_DECODER_JUNCTION = re.compile(r"[A-Za-z][0-9]|[0-9][A-Za-z]")
OLD_DECODER_TOKEN = re.compile(r"[A-Za-z0-9_@$.]+")
DECODABLE = st.lists(
    st.sampled_from(list("0123456789aAsSoOIlzZbB_@$.-x/ ,\t\u00e9") + ["moc.", "ten.", "gro.", "liamg", "oohay", "liamtoh",
                                                                   "kooltuo", "day", "ay ", "MS63", "4-1-5"]),
    max_size=50,
).map("".join)


@settings(max_examples=800, deadline=None)
@given(DECODABLE)
def test_decoder_patterns_agree_with_the_originals(text):
    from pipeline.detection import decoders

    assert _spans(decoders._INTERLEAVED, text) == _spans(OLD_INTERLEAVED, text)
    assert decoders._mixed_tokens(text) == [t for t in OLD_DECODER_TOKEN.findall(text) if OLD_DECODER_JUNCTION.search(t)]
    lowered = text.lower()
    assert decoders._reversed_hint(lowered) == (decoders._REVERSED_HINT.search(lowered) is not None)


def test_mixed_tokens_stay_linear_on_long_runs():
    # A hundred thousand token characters: one pass each, not one per start position.
    from pipeline.detection import decoders

    assert decoders._mixed_tokens("a" * 100_000 + " 1" * 10) == []
    assert decoders._mixed_tokens("a" * 50_000 + "1") == ["a" * 50_000 + "1"]
    assert gates._mixed_tokens("1a" * 50_000) == ["1a" * 50_000]


GATE_TEXT = st.lists(st.sampled_from(list("abzAZ019@$|_ .-\t\u00e9\u212a") + ["ms63", "v3nm0", "wh@ts", "9400", "$5"]), max_size=40).map("".join)


@settings(max_examples=800, deadline=None)
@given(GATE_TEXT)
def test_gate_mixed_tokens_agree_with_the_original_filter(text):
    lowered = text.lower()
    assert gates._mixed_tokens(lowered) == [t for t in gates._TOKEN.findall(lowered) if not (t.isalpha() or t.isdigit())]
    assert gates._words(lowered) == gates._WORD.findall(lowered)
