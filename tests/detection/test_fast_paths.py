"""The speed rewrites of detection patterns answer exactly as the patterns they replaced.

Several patterns were rewritten to start with one character class (the regex engine then skips
from candidate to candidate) or are guarded by a cheaper hint; each is checked here against the
original, kept verbatim below, on generated text built from the characters that matter.
"""

from __future__ import annotations

import re

from hypothesis import example, given, settings
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


def test_a_word_filter_answers_as_its_test_and_stays_bounded():
    seen = []

    def test(word: str) -> bool:
        seen.append(word)
        return word.endswith("ay")

    remembered = gates.WordFilter(test, limit=50)

    def word(n: int) -> str:
        return "q" + "".join(chr(97 + (n // 26**k) % 26) for k in range(3))

    for i in range(200):
        words = frozenset(word(5 * i + j) for j in range(5)) | {"today", "okay", "deal"}
        assert remembered.among(words) == {"today", "okay"}
        assert len(remembered.seen) <= 50 + 8
    # Once seen, a word is not tested again (until the sets are emptied at the limit).
    seen.clear()
    assert remembered.among(frozenset({"today", "deal"})) == {"today"}
    assert remembered.among(frozenset({"today", "deal"})) == {"today"}
    assert seen.count("today") <= 1


def test_registering_a_stem_forgets_the_remembered_candidates():
    early = gates.stems("qjvz")
    assert not gates.message_words("zqxwvut here").any_stem(early)  # "zqxwvut" is remembered as no candidate
    late = gates.stems("zqxw")
    assert gates.message_words("zqxwvut here").any_stem(late)


# Mostly letters, dots and spaces, so that every arrangement of five of them turns up.
SPACED = st.lists(st.sampled_from(list("a. a. a. Z. -*@_1\t") + ["...", "e.g.", "w w w"]), max_size=30).map("".join)


@settings(max_examples=1000, deadline=None)
@given(SPACED)
@example(" . a ")
@example(" ..a ")
@example(" a.. ")
@example(" .... ")
@example("x e.g. y")
@example("w-w-w")
@example("a @ b ")
def test_spaced_hint_from_byte_classes_agrees_with_the_pattern(text):
    classes = text.encode("ascii").translate(normalise._WORK_CLASSES).decode("ascii")
    assert normalise._spaced_hint(text, classes) == (normalise._SPACED_HINT.search(text) is not None)
    if OLD_ANY_WORK.search(text):
        assert normalise._ascii_may_change(text)
    else:
        assert normalise.normalise(text).text == text


INTERLEAVY = st.lists(st.sampled_from(list("0123456789") * 3 + list("aZ-. _\t\u00e9\u2013") + ["--", "ab"]), max_size=40).map("".join)


@settings(max_examples=1000, deadline=None)
@given(INTERLEAVY)
@example("3a1b2c4d5e6f7")
@example("4-1-5-5-5-0-1-2-3")
def test_interleaved_count_is_a_necessary_condition(text):
    from pipeline.detection import decoders

    if not decoders._may_interleave(text):
        assert decoders._INTERLEAVED.search(text) is None


PIGGY = st.lists(st.sampled_from(["ay", "ay ", "day", "today", "ayay", "xay.", "way", "aya", " ", "7ay", "\u00e9ay", "A", "Y"]),
                 max_size=12).map("".join)


@settings(max_examples=600, deadline=None)
@given(PIGGY)
def test_pig_latin_count_is_a_necessary_condition(text):
    from pipeline.detection import decoders

    gate = gates.message_words(text)
    if len(decoders._AY_AT_END.findall(gate.lowered)) < 3:
        assert sum(1 for w in gate.words if w.endswith("ay")) < 3


@settings(max_examples=600, deadline=None)
@given(DECODABLE)
def test_leet_words_of_joined_tokens_are_those_of_each_token(text):
    from pipeline.detection import decoders

    mixed = decoders._mixed_tokens(text)
    each = {w for t in mixed for w in re.findall(r"[a-z]+", t.lower().translate(decoders._LEET_TO_LETTERS))}
    assert set(decoders._LETTER_RUN.findall(" ".join(mixed).lower().translate(decoders._LEET_TO_LETTERS))) == each


# Plain chat answered before any gate (branch s5-easy): wherever ``_plain_chat`` says so, the whole
# scan must find nothing. Texts are built from the words the gates look for, words that start like
# them, ordinary chat words and the punctuation plain chat may hold.
def _gate_words() -> list[str]:
    from pipeline.detection import scanner

    return sorted(w for w in scanner._PLAIN_STOP_WORDS if w.isascii() and w.isalpha())


NEAR_WORDS = ["cashier", "venmoo", "zelly", "payp", "telegr", "whatsap", "snapp", "instag", "gmai", "yaho", "hotmai",
              "paypl", "revolu", "crypt", "bitco", "stablecoin", "skrill", "wired", "today", "okay", "stay", "pay",
              "obverse", "reverse", "site", "shop", "store", "find", "search", "google", "yahoo", "number", "digits"]
CHAT_WORDS = ["is", "this", "still", "available", "thanks", "deal", "great", "seller", "fast", "shipping", "coin", "the",
              "price", "firm", "ok", "good", "hey", "got", "i", "ll", "what", "s", "box", "a", "b", "me", "my", "you"]
PLAIN_PIECES = st.one_of(
    st.sampled_from(CHAT_WORDS + NEAR_WORDS),
    st.sampled_from(_gate_words()),
    st.sampled_from([" ", " ", " ", ", ", "!", "?", "'", '"', "  ", "X", "1", ".", "@", "-"]),
).map(lambda w: w.upper() if len(w) % 5 == 0 else w.title() if len(w) % 5 == 1 else w)
PLAIN_TEXT = st.lists(PLAIN_PIECES, max_size=14).map(" ".join)


@settings(max_examples=1500, deadline=None)
@given(PLAIN_TEXT)
def test_plain_chat_finds_nothing_in_the_whole_scan(text):
    from pipeline.detection import decoders, languages, scanner

    if not text or not scanner._plain_chat(text):
        return
    folded = normalise.normalise(text)
    assert folded.text == text
    gate = gates.message_words(text)
    assert languages.rewrite_links(folded, gate) is folded
    assert not scanner.could_match(text, gate)
    assert not decoders.may_apply(text, gate)
    assert scanner._scan(text, scanner.DEFAULT_PLATFORM_DOMAINS) == []


def _plain_messages(paths) -> int:  # type: ignore[no-untyped-def]
    import json

    from pipeline.detection import scanner

    plain = 0
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"] if line.strip() else ""
            if text and scanner._plain_chat(text):
                plain += 1
                assert scanner._scan(text, scanner.DEFAULT_PLATFORM_DOMAINS) == [], text
    return plain


def test_plain_chat_on_every_message_of_the_held_out_sets():
    from pathlib import Path

    assert _plain_messages(sorted((Path(__file__).resolve().parents[1] / "heldout").glob("*/messages.jsonl"))) >= 3


def test_plain_chat_on_every_message_of_the_shared_corpora(shared_eval):  # type: ignore[no-untyped-def]
    assert _plain_messages([shared_eval / "contact-dev.jsonl", shared_eval / "contact-adversarial-dev.jsonl"]) >= 5


def test_plain_chat_takes_ordinary_short_messages():
    from pipeline.detection import scanner

    assert scanner._plain_chat("Is this still available?")
    assert scanner._plain_chat("great seller, fast shipping")
    assert not scanner._plain_chat("text me, one two")  # gate words
    assert not scanner._plain_chat("w h a t s a p p")  # spaced letters
    assert not scanner._plain_chat("ok at noon")  # "at" may be an address's "@"
