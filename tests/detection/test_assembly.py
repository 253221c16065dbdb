"""Pieces of a contact detail spread over one sender's messages, reassembled (``assembly.py``).

Property tests generate the pieces, the cut points and the wording around them; the silent set
is the number-dense clean trade chat of ``bench/stream.py`` grouped into conversations.
"""

from __future__ import annotations

import importlib.util
import itertools
import random
import string
from pathlib import Path

import phonenumbers
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.detection import scan_conversation, scan_text
from pipeline.detection.assembly import assembled_numbers, glued_findings, number_pieces
from pipeline.detection.checksums import iban_valid
from pipeline.detection.languages import VOCABULARY

_SPEC = importlib.util.spec_from_file_location("bench_stream", Path(__file__).parents[2] / "bench" / "stream.py")
assert _SPEC is not None and _SPEC.loader is not None
stream = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(stream)

_AREA_CODES = ["212", "305", "312", "415", "503", "602", "646", "702", "713", "801", "917", "925"]
_DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_ES_UNITS = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"]
_ES_TENS = {2: "veinte", 3: "treinta", 4: "cuarenta", 5: "cincuenta", 6: "sesenta", 7: "setenta", 8: "ochenta", 9: "noventa"}
_LEADS = ["serial is {}", "the box says {}", "lot {} on the tag", "{}", "first bit {}", "then {}", "cert ends {}", "and {}"]
_CUES = ["ring all of them together", "put them together and call", "text that number", "together that's my cell",
         "call after 6", "in that order, WhatsApp"]


@st.composite
def us_numbers(draw: st.DrawFn) -> str:
    """Ten digits of a valid US number (not a 555 example: those are valid too, but vary the exchange)."""
    area = draw(st.sampled_from(_AREA_CODES))
    exchange = str(draw(st.integers(200, 989)))
    line = f"{draw(st.integers(0, 9999)):04d}"
    digits = area + exchange + line
    assume(phonenumbers.is_valid_number(phonenumbers.parse(digits, "US")))
    return digits


# Every way to cut ten digits into two to four pieces of two to five digits.
_COMPOSITIONS = [c for n in (2, 3, 4) for c in itertools.product(range(2, 6), repeat=n) if sum(c) == 10]


def cut(digits: str, lengths: tuple[int, ...]) -> list[str]:
    """``digits`` cut into pieces of the given lengths."""
    ends = list(itertools.accumulate(lengths))
    return [digits[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_a_number_told_in_pieces_with_words_between_is_reassembled(data: st.DataObject) -> None:
    digits = data.draw(us_numbers())
    pieces = cut(digits, data.draw(st.sampled_from(_COMPOSITIONS)))
    spelled = data.draw(st.lists(st.booleans(), min_size=len(pieces), max_size=len(pieces)))
    leads = data.draw(st.lists(st.sampled_from(_LEADS), min_size=len(pieces), max_size=len(pieces)))
    cue = data.draw(st.sampled_from(_CUES))
    texts = [lead.format(" ".join(_DIGIT_WORDS[int(d)] for d in piece) if spell and len(piece) >= 2 else piece)
             for lead, piece, spell in zip(leads, pieces, spelled, strict=True)]
    texts[-1] += ". " + cue
    messages = [("seller", t) for t in texts]
    phones = [f for f in scan_conversation(messages) if f.kind == "phone"]
    assert any(f.value == "+1" + digits for f in phones), (texts, [(f.value, f.messages) for f in phones])
    assert any(len(f.messages) >= 2 for f in phones if f.value == "+1" + digits)


@settings(max_examples=60, deadline=None, database=None)
@given(pairs=st.lists(st.integers(10, 99).filter(lambda n: n % 10 != 0 and n // 10 >= 2), min_size=5, max_size=5))
def test_a_number_said_in_spanish_pairs_over_three_messages_is_reassembled(pairs: list[int]) -> None:
    def say(n: int) -> str:
        return f"{_ES_TENS[n // 10]} y {_ES_UNITS[n % 10]}"

    digits = "55" + "".join(str(n) for n in pairs[1:])
    assume(phonenumbers.is_valid_number(phonenumbers.parse(digits, "MX")))
    texts = [f"Te lo paso por partes, empieza con {say(55)}", f"luego {say(pairs[1])}, {say(pairs[2])}",
             f"y termina en {say(pairs[3])}, {say(pairs[4])}"]
    found = assembled_numbers(texts, [0, 1, 2])
    assert found is not None and found.value == "+52" + digits and found.lang == "es"


def test_the_pieces_without_a_cue_stay_clean() -> None:
    texts = ["Bar serial is 07700", "assay card number is 900", "and the box says 274"]
    assert assembled_numbers(texts, [0, 1, 2]) is None
    texts[-1] += ". Ring all three together"
    found = assembled_numbers(texts, [0, 1, 2])
    assert found is not None and found.value == "+447700900274" and found.messages == (0, 1, 2)
    assert [(s.message, texts[s.message][s.start : s.end]) for s in found.spans] == [(0, "07700"), (1, "900"), (2, "274")]


def test_prices_weights_dates_and_long_numbers_are_not_pieces() -> None:
    assert number_pieces("$1,150 shipped") == []
    assert number_pieces("26.73 g, 12/4/2025") == []
    assert number_pieces("cert 48213377") == []  # eight digits: a whole trade number, not a piece
    assert [p[2] for p in number_pieces("then 555")] == ["555"]


def _dense_conversations(seed: int, count: int) -> list[list[tuple[str, str]]]:
    rng = random.Random(seed)
    lines = [stream._dense_clean(rng) for _ in range(count * 4)]
    conversations = []
    for start in range(0, len(lines) - 4, 4):
        sender = rng.choice(["buyer", "seller"])
        chunk = lines[start : start + 4]
        conversations.append([(sender, line) for line in chunk])
    return conversations


@settings(max_examples=40, deadline=None, database=None)
@given(seed=st.integers(0, 10**6))
def test_dense_clean_trade_chat_split_over_messages_stays_clean(seed: int) -> None:
    for messages in _dense_conversations(seed, 25):
        findings = scan_conversation(messages)
        assert findings == [], (messages, findings)


# --- names and codes cut between messages ---------------------------------------------------------

_CODE_ALPHABET = string.ascii_uppercase + string.digits


@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_a_gift_card_code_in_parts_is_glued(data: st.DataObject) -> None:
    code = data.draw(st.text(_CODE_ALPHABET, min_size=12, max_size=16))
    # A code that is also a valid IBAN (one Norwegian or Belgian string in ~100) is reported as the IBAN.
    assume(any(c.isdigit() for c in code) and any(c.isalpha() for c in code) and not code.startswith("1Z")
           and not iban_valid(code))
    cut = data.draw(st.integers(4, len(code) - 4))
    card = data.draw(st.sampled_from(["Amazon card", "Steam card", "Apple gift card", "Google Play card", "Vanilla card"]))
    lead = data.draw(st.sampled_from(["first part: ", "code: ", "here it is - ", ""]))
    texts = [lead + code[:cut], code[cut:] + f" — that's the ${data.draw(st.integers(50, 500))} {card}, rest tomorrow"]
    found = [f for f in scan_conversation([("buyer", t) for t in texts]) if f.kind == "payment" and f.value == "gift_card"]
    assert found and found[0].messages == (0, 1)
    assert found[0].match == code[:cut] + " | " + code[cut:]


def _name(draw: st.DrawFn) -> str:
    word = draw(st.text(string.ascii_lowercase, min_size=4, max_size=9))
    assume(word not in VOCABULARY.fillers and word not in VOCABULARY.numbers and word not in VOCABULARY.at_words)
    assume(not any(w in word for w in ("dot", "at", "com", "net", "org", "punto", "ponto", "arroba")))
    return word


@settings(max_examples=100, deadline=None, database=None)
@given(data=st.data())
def test_an_address_spelled_over_messages_with_fillers_is_reassembled(data: st.DataObject) -> None:
    first, last, domain = _name(data.draw), _name(data.draw), _name(data.draw)
    tld = data.draw(st.sampled_from(["com", "net", "org"]))
    forms = [
        [f"first name {first}", f"then a dot and {last}", f"and then the usual at {domain} dot {tld}"],
        [f"meu usuário é {first}.{last}", f"depois vem a arroba e {domain}", f"ponto {tld}, me chama lá"],
        [f"{first}.{last}", f"then at {domain}", f"dot {tld}"],
    ]
    texts = data.draw(st.sampled_from(forms))
    emails = [f for f in scan_conversation([("seller", t) for t in texts]) if f.kind == "email" and len(f.messages) >= 2]
    assert [f.value for f in emails] == [f"{first}.{last}@{domain}.{tld}"], texts


def test_glued_findings_need_a_boundary() -> None:
    def scan(text: str) -> list:  # type: ignore[type-arg]
        return scan_text(text)

    kinds = frozenset({"email", "url", "handle", "payment"})
    # One message already holds the whole code: nothing reaches over a boundary.
    assert glued_findings(["code ZN4WEMWJHXSJP6 for the Amazon card", "thanks"], [0, 1], scan, kinds) == []
    # Two plain words at a boundary are not glued into a name.
    assert glued_findings(["I'm on the site with the orange alien too", "stacker"], [0, 1], scan, kinds) == []


# --- values and refusals ------------------------------------------------------------------------------


def test_number_words_after_an_app_label_are_not_a_username() -> None:
    assert [(f.kind, f.value) for f in scan_text("zap: seis dois nove oito") if f.kind == "handle"] == [("handle", "whatsapp")]
    assert [f.value for f in scan_text("tg: nueve ocho siete") if f.kind == "handle"] == ["telegram"]
    assert [f.value for f in scan_text("telegram: zero one two three") if f.kind == "handle"] == ["telegram"]
    assert [f.value for f in scan_text("signal: drei vier fünf") if f.kind == "handle"] == ["signal"]
    assert [f.value for f in scan_text("insta: cuatro") if f.kind == "handle"] == ["instagram"]
    assert [f.value for f in scan_text("zap: meu número") if f.kind == "handle"] == ["whatsapp"]
    assert [f.value for f in scan_text("telegram: later tonight") if f.kind == "handle"] == ["telegram"]
    # Real usernames are kept, even when they start with a number word.
    assert [f.value for f in scan_text("tg: quatro_coins") if f.kind == "handle"] == ["telegram:quatro_coins"]
    assert [f.value for f in scan_text("telegram: coin_guy") if f.kind == "handle"] == ["telegram:coin_guy"]


@settings(max_examples=100, deadline=None, database=None)
@given(app=st.sampled_from(["zap", "tg", "telegram", "whatsapp", "signal", "wa", "insta"]),
       lang=st.sampled_from(["pt", "es", "fr", "de", "it"]), data=st.data())
def test_a_handle_value_is_never_a_number_word(app: str, lang: str, data: st.DataObject) -> None:
    words = [w for w, (_, wlang) in VOCABULARY.numbers.items() if wlang == lang and w.isalpha()]
    said = " ".join(data.draw(st.lists(st.sampled_from(words), min_size=2, max_size=6)))
    for finding in scan_text(f"{app}: {said}"):
        if finding.kind == "handle" and ":" in finding.value:
            assert finding.value.split(":", 1)[1] not in VOCABULARY.numbers


def test_a_refusal_with_the_negation_after_the_channel_is_clean() -> None:
    assert scan_text("Нет, в телеграм переходить не буду, давайте всё обсудим здесь.") == []
    assert scan_text("Telegram nutze ich nicht, lieber hier.") == []
    assert [f.value for f in scan_text("пиши в телеграм, не тут") if f.kind == "handle"] == ["telegram"]


def test_where_one_heard_of_something_is_not_an_invitation() -> None:
    assert scan_text("I first heard about this die variety in a WhatsApp group, but I'd rather buy here.") == []
    assert scan_text("saw this variety on Telegram last year, never found one since") == []
    assert [f.value for f in scan_text("saw your post in a WhatsApp group, join mine too") if f.kind == "handle"] == ["whatsapp"]


def test_a_rail_asked_about_and_answered_with_the_checkout_is_clean() -> None:
    messages = [("buyer", "do you take paypal?"), ("seller", "only site checkout"), ("buyer", "ok no problem")]
    assert scan_conversation(messages) == []
    messages = [("buyer", "do you take Zelle?"), ("seller", "no, only through PeerMetals"), ("buyer", "fine, paying now")]
    assert scan_conversation(messages) == []
    messages = [("buyer", "do you take Zelle?"), ("seller", "no problem, same as my email"), ("buyer", "ok")]
    assert [f.value for f in scan_conversation(messages) if f.kind == "payment"] == ["zelle"]
    messages = [("buyer", "do you take paypal?"), ("seller", "yes, send it to my email"), ("buyer", "ok")]
    assert [f.value for f in scan_conversation(messages) if f.kind == "payment"] == ["paypal"]


def test_a_leet_reading_must_change_what_it_reports() -> None:
    assert scan_text("Is the 1920s Western Union telegram still included with the gold certificate lot?") == []
    assert [f.value for f in scan_text("hit me on 5n4pch4t") if f.kind == "handle"][:1] == ["snapchat"]


# --- the gate never loses a finding ---------------------------------------------------------------


def _every_detector(text: str) -> list:  # type: ignore[type-arg]
    """All detectors on normalised ``text``, with no gate in front of them."""
    from pipeline.detection import emails, handles, intents, languages, payments, phones, urls
    from pipeline.detection.gates import message_words
    from pipeline.detection.scanner import _clean_domains

    gate = message_words(text)
    domains = _clean_domains(("peermetals.com",))
    found = urls.find_urls(text, domains, gate)
    return [*phones.find_phones(text, gate), *emails.find_emails(text, domains, gate), *found,
            *urls.social_handles(found), *handles.find_handles(text, gate), *payments.find_payments(text, gate),
            *intents.find_intents(text, gate), *languages.find_phrases(text, gate)]


def _gate_corpus() -> list[str]:
    import json

    texts = list(stream.messages(3000, 7)) + list(stream.dense_messages(2000, 11))
    root = Path(__file__).parents[2]
    for path in [root / "tests" / "heldout" / "fifth" / "messages.jsonl", *sorted((root.parent / "shared" / "eval").glob("contact-*dev.jsonl"))]:
        # The shared corpora beside the clone add their texts when present; the streams and the fifth set suffice alone.
        if path.exists():
            texts.extend(json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    texts += ["still got this one?", "through the site", "the escrow hold cleared", "checkout done, thanks",
              "five five five, five five five, five five five five", "one two", "call one", "site off the"]
    return texts


def test_a_message_the_gate_skips_gives_no_finding_to_any_detector() -> None:
    from pipeline.detection.gates import message_words
    from pipeline.detection.normalise import normalise
    from pipeline.detection.scanner import could_match

    skipped = 0
    for text in _gate_corpus():
        folded = normalise(text).text
        if not could_match(folded, message_words(folded)):
            skipped += 1
            assert _every_detector(folded) == [], text
    assert skipped > 1000  # the gate does skip most easy chat


def test_a_username_sent_in_reply_to_a_question_for_it_is_a_handle() -> None:
    messages = [("buyer", "what is your username there?"), ("seller", "silver.fox_77"), ("buyer", "added")]
    assert [(f.value, f.messages, f.match) for f in scan_conversation(messages)] == [("username:silver.fox_77", (1,), "silver.fox_77")]
    messages = [("buyer", "you on telegram?"), ("seller", "yes"), ("buyer", "what's your name on it"), ("seller", "morgan_mike_cc")]
    assert ("telegram:morgan_mike_cc", (3,)) in [(f.value, f.messages) for f in scan_conversation(messages)]
    # A plain name, an order id asked for, or the same sender answering itself stays clean.
    assert scan_conversation([("buyer", "whats your name on the forum?"), ("seller", "Tom"), ("buyer", "cool")]) == []
    assert scan_conversation([("buyer", "whats your order id?"), ("seller", "A12345"), ("buyer", "ok")]) == []
    assert scan_conversation([("buyer", "what's your name on there"), ("buyer", "coin_guy_1")]) == []


_APPS = ["WhatsApp", "Telegram", "Signal", "Discord", "Snapchat", "Viber", "WeChat"]


@settings(max_examples=120, deadline=None, database=None)
@given(app=st.sampled_from(_APPS),
       verb=st.sampled_from(["heard about", "first heard of", "read about", "saw", "came across", "learned about", "spotted"]),
       thing=st.sampled_from(["this die variety", "the S-mint dime", "these rounds", "the hoard story", "that mint error"]),
       place=st.sampled_from(["in a {} group", "on {}", "in some {} channel", "in my uncle's {} chat"]),
       tail=st.sampled_from(["", ", but I'd rather buy here", " last year", ", so I came looking on here"]))
def test_where_one_heard_of_something_stays_clean_unless_it_invites(app: str, verb: str, thing: str, place: str, tail: str) -> None:
    sentence = f"I {verb} {thing} {place.format(app)}{tail}."
    assert [f for f in scan_text(sentence) if f.kind == "handle"] == [], sentence
    if app in ("Signal", "Snapchat"):
        return  # names that are also words need more context than "join me there" anyway
    invited = f"I {verb} {thing} {place.format(app)}, join me there."
    assert [f for f in scan_text(invited) if f.kind == "handle"], invited


@settings(max_examples=80, deadline=None, database=None)
@given(app=st.sampled_from(["телеграм", "вотсап", "ватсап"]), verb=st.sampled_from(["переходить", "писать", "общаться"]),
       tail=st.sampled_from(["", ", давайте здесь", ", только через сайт"]))
def test_a_russian_refusal_with_the_negation_after_the_app_stays_clean(app: str, verb: str, tail: str) -> None:
    assert [f for f in scan_text(f"Нет, в {app} {verb} не буду{tail}.") if f.kind == "handle"] == []
    # Without the negation the same clause proposes the app.
    assert [f for f in scan_text(f"Давайте в {app} {verb}, так быстрее.") if f.kind == "handle"]


def test_the_decoder_gate_loses_no_finding(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pipeline.detection import decoders
    from pipeline.detection.gates import message_words
    from pipeline.detection.normalise import normalise

    texts = [*_gate_corpus(), "1 kilo bar", "kilo alpha tango", "text me", "m3 at 415", "reverse proof",
             "Morse-themed privy on this bar: ... --- ... (SOS) stamped on the edge",
             "text me: ....- .---- ..... ..... ..... ..... ----- .---- ..--- ...--"]
    skipped = [t for t in texts if not decoders.may_apply(t, message_words(normalise(t).text))]
    gated = [scan_text(t) for t in skipped]
    monkeypatch.setattr(decoders, "may_apply", lambda text, gate: True)
    assert [scan_text(t) for t in skipped] == gated
    assert len(skipped) > 1000


_PROSE_ENDINGS = ("No scratches at all.", "I can meet you at noon.", "Shipped it at last.", "Look at the photos.",
                  "It arrived at home.", "Priced at spot.")
_PROSE_STARTS = ("No", "Sure", "Thanks", "Yes", "Shipped", "Net", "Com", "Org")


@given(st.sampled_from(_PROSE_ENDINGS), st.sampled_from(_PROSE_STARTS), st.sampled_from(("", " works for me", ", sold out")))
def test_a_sentence_full_stop_is_not_a_domain_dot_across_messages(ending: str, start: str, tail: str) -> None:
    """ "No scratches at all." | "No, sold out" once became the email scratches@all.no (found by the notification simulation)."""
    conversation = [("s", ending), ("s", start + tail)]
    assert [f for f in scan_conversation(conversation) if f.kind == "email"] == []


def test_a_domain_cut_after_its_dot_is_still_glued() -> None:
    found = scan_conversation([("s", "write me: silverpeak77 at gmail."), ("s", "com")])
    assert [(f.kind, f.value) for f in found] == [("email", "silverpeak77@gmail.com")]
