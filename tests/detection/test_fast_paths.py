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
    list("aAbBzZxX019 .-*@$|([<{\t\n\x01\x7f&_") + [" at ", " dot ", "_at_", "_AT_", "_dot_", " com", "gmail", "bc1", "BC1", "ltc1", "0x", "GB", "DE89", "1Z", "w w w", " Dot ", " SLASH ", " slash ", ". com"]
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
# The any-work pattern normalise used for ASCII text before branch s5-easy replaced it with C-level steps.
OLD_ANY_WORK = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f(\[{<@ \-._*](?:(?<=[\x00-\x08\x0b\x0c\x0e-\x1f\x7f(\[{<@])|"
    r"(?<=[ \-.*])[A-Za-z@.][ \-.*][A-Za-z@.][ \-.*]|(?<= )(?i:dot|slash|\.) |(?<= )\.[a-z]|(?<=\.) com\b|(?<=_)(?i:at|dot)_)"
)
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
    if text.isascii() and len(text) >= 25:
        # Exactly "some run of letters and digits is 25 long", as the split it replaced said.
        runs = re.findall(r"[0-9A-Za-z]+", text)
        assert payments.may_hold_long_token(text) == (bool(runs) and max(map(len, runs)) >= 25)


@settings(max_examples=600, deadline=None)
@given(TEXTS)
def test_hints_are_necessary_conditions(text):
    # Without the spaced-letters hint the spaced-letters pass changes nothing; without the
    # any-work hint an ASCII message comes out of normalise unchanged.
    if not normalise._SPACED_HINT.search(text):
        assert normalise._SPACED_LETTERS.search(text) is None
    if text.isascii() and not OLD_ANY_WORK.search(text):
        assert normalise.normalise(text).text == text
    # The C-level replacement of the any-work pattern lets through every text the pattern did.
    if text.isascii() and OLD_ANY_WORK.search(text):
        assert normalise._ascii_may_change(text)
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
OLD_MORSE_RUN = re.compile(r"(?<![\w.-])[.\-]{1,6}(?:\s*/?\s*[.\-]{1,6}){5,}(?![\w.-])")
OLD_DECODER_JUNCTION = re.compile(r"[A-Za-z][0-9]|[0-9][A-Za-z]")
OLD_DECODER_TOKEN = re.compile(r"[A-Za-z0-9_@$.]+")
DECODABLE = st.lists(
    st.sampled_from(list("0123456789aAsSoOIlzZbB_@$.-x/ ,\t\u00e9") + ["moc.", "ten.", "gro.", "liamg", "oohay", "liamtoh",
                                                                   "kooltuo", "day", "ay ", "MS63", "4-1-5", "...", "--", " / ", ".-", "-.", "\u2013"]),
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


MORSISH = st.lists(st.sampled_from(list(".-./- .-.a1_\t") + ["...", "---", " / ", "  ", ".-.-"]), max_size=60).map("".join)


@settings(max_examples=800, deadline=None)
@given(MORSISH)
def test_morse_pattern_agrees_with_the_original(text):
    from pipeline.detection import decoders

    assert _spans(decoders._MORSE_RUN, text) == _spans(OLD_MORSE_RUN, text)


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


# Latin phrases of the vocabulary (branch s5-easy): in ASCII text a phrase is searched for only
# when every letter run of it is a word of the message; that must be a necessary condition.
def _latin_phrases():
    from pipeline.detection.languages import VOCABULARY

    return sorted(text for entries in VOCABULARY.by_key.values() for text, _ in entries)


PHRASE_PIECES = st.one_of(
    st.sampled_from(_latin_phrases()).map(lambda p: p.upper() if len(p) % 3 == 0 else p.title() if len(p) % 3 == 1 else p),
    st.sampled_from([" ", "  ", "\t", ".", ",", "_", "-", "'", "1", "a", "x"]),
)
PHRASE_TEXT = st.lists(PHRASE_PIECES, min_size=1, max_size=8).map("".join)


@settings(max_examples=800, deadline=None)
@given(PHRASE_TEXT)
def test_phrase_word_filter_is_a_necessary_condition(text):
    from pipeline.detection import languages

    words = gates.message_words(text).words
    for phrase in _latin_phrases():
        if languages._phrase_pattern(phrase).search(text) is not None:
            assert languages.VOCABULARY.phrase_words[phrase] <= words, phrase


SPELLED_TEXT = st.lists(st.sampled_from(["five", "one", "oh", "ohoh", "fiveone", "onetwothree", "fivex", "seven", "tree", "often",
                                          "sixsix", "ninety", "zeroone", "fortuna", " ", "1", "-", "Five", "ONEONE"]),
                        max_size=8).map("".join)


@settings(max_examples=800, deadline=None)
@given(st.lists(SPELLED_TEXT, min_size=1, max_size=4))
def test_spelled_digit_gate_agrees_with_the_plain_check(texts):
    # The seen-words set must never change the answer, however often a word comes back.
    from pipeline.detection import phones

    for text in texts * 2:
        gate = gates.message_words(text)
        plain = gate.any_word(phones._DIGIT_WORD_SET) or any(
            len(w) >= 5 and w[:2] in phones._SPELLED_STARTS and phones._ALL_SPELLED.fullmatch(w) for w in gate.words)
        assert phones._has_spelled_digits(gate) == plain, text


def test_the_seen_words_set_stays_bounded(monkeypatch):
    from pipeline.detection import phones

    monkeypatch.setattr(phones, "_UNGLUED", set())
    monkeypatch.setattr(phones, "_UNGLUED_LIMIT", 50)
    def word(n: int) -> str:
        return "q" + "".join(chr(97 + (n // 26**k) % 26) for k in range(3))

    for i in range(200):
        assert not phones._has_spelled_digits(gates.message_words(" ".join(word(5 * i + j) for j in range(5))))
        assert len(phones._UNGLUED) <= 55
    assert len(phones._UNGLUED) > 5
    assert phones._has_spelled_digits(gates.message_words("ring fiveonezero"))
