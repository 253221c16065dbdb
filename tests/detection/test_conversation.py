"""Contact details split across consecutive messages."""

from __future__ import annotations

from pipeline.detection import scan_conversation


def _kinds(messages):  # type: ignore[no-untyped-def]
    return {f.kind for f in scan_conversation(messages)}


def test_number_split_over_three_messages_names_all_of_them() -> None:
    messages = [("buyer", "still available?"), ("seller", "yes, text me"), ("seller", "720 443"), ("seller", "9182")]
    phones = [f for f in scan_conversation(messages) if f.kind == "phone"]
    assert len(phones) == 1
    assert phones[0].messages == (2, 3)
    assert phones[0].value == "+17204439182"
    assert [s.message for s in phones[0].spans] == [2, 3]


def test_spelled_email_split_over_messages() -> None:
    messages = ["email works: stacker77", "at", "outlook", "dot com"]
    emails = [f for f in scan_conversation(messages) if f.kind == "email"]
    assert emails and emails[0].value == "stacker77@outlook.com"
    assert emails[0].messages == (0, 1, 2, 3)


def test_app_name_split_in_two() -> None:
    assert "handle" in _kinds([("s", "add me on whats"), ("s", "app")])


def test_single_message_findings_carry_their_index() -> None:
    findings = scan_conversation(["hello", "zelle?"])
    assert [(f.kind, f.messages) for f in findings] == [("payment", (1,))]


def test_haggling_between_two_people_is_not_joined_into_a_number() -> None:
    messages = [("buyer", "720?"), ("seller", "443"), ("buyer", "918"), ("seller", "2 more and deal")]
    assert scan_conversation(messages) == []


def test_clean_number_heavy_thread() -> None:
    messages = [("seller", "label printed: 9400 1118"), ("seller", "9956 2210 0437 13"), ("buyer", "thanks!"),
                ("seller", "cert 6122841"), ("seller", "-003"), ("buyer", "1,300?"), ("seller", "1,350 firm")]
    assert scan_conversation(messages) == []


def test_long_conversation_is_linear_and_clean() -> None:
    messages = [("buyer" if i % 2 else "seller", f"offer {1000 + i}") for i in range(400)]
    assert scan_conversation(messages) == []


SPLIT_ATTEMPTS = [
    [("s", "call me"), ("s", "seven one eight"), ("s", "five five two"), ("s", "nine nine one zero")],
    [("s", "my email"), ("s", "jenny.coins"), ("s", "@"), ("s", "gmail.com")],
    [("s", "check my site"), ("s", "silverbarn"), ("s", ".net")],
    [("s", "add me on"), ("s", "tele"), ("s", "gram")],
    [("s", "my snap"), ("s", "is"), ("s", "coinqueen22")],
    [("b", "can you pay"), ("b", "ven"), ("b", "mo")],
    [("s", "let's take"), ("s", "this"), ("s", "offline")],
    [("s", "number is 2 1 2"), ("s", "5 5 9"), ("s", "0 1 4 8")],
    [("b", "hi"), ("s", "email is jsmith"), ("s", "at"), ("s", "yahoo")],
    [("s", "212"), ("s", "559"), ("s", "0148"), ("s", "thats my cell")],
    [("s", "pay me on cash"), ("s", "app")],
]
CLEAN_THREADS = [
    [("s", "I have 3"), ("s", "at 450"), ("s", "each, 1,350 total")],
    [("s", "cert numbers:"), ("s", "6122841-003"), ("s", "6122841-004")],
    [("s", "years I have:"), ("s", "1921 1922"), ("s", "1923 1926")],
    [("s", "tracking"), ("s", "9400 1118 9956"), ("s", "2210 0437 13")],
    [("b", "how many?"), ("s", "212"), ("s", "in total"), ("s", "559 if you count the halves")],
    [("s", "price list:"), ("s", "1 oz 41.50"), ("s", "10 oz 395"), ("s", "kilo 1,240")],
    [("s", "shipping Monday"), ("s", "by 10:30"), ("s", "order 4471 and 4472")],
    [("s", "dimes 1946"), ("s", "to 1964"), ("s", "all 90%")],
    [("s", "serial"), ("s", "AB 771 204"), ("s", "on the bar")],
]


def test_split_attempts_are_found() -> None:
    for messages in SPLIT_ATTEMPTS:
        assert scan_conversation(messages), messages


def test_number_heavy_threads_stay_clean() -> None:
    for messages in CLEAN_THREADS:
        assert scan_conversation(messages) == [], messages


def test_email_spelled_over_five_messages() -> None:
    messages = [("s", "my email is jsmith"), ("s", "at"), ("s", "yahoo"), ("s", "dot"), ("s", "com")]
    assert "email" in {f.kind for f in scan_conversation(messages)}


def test_number_in_five_pieces() -> None:
    messages = [("s", "4"), ("s", "1"), ("s", "5"), ("s", "555"), ("s", "0123")]
    (finding,) = scan_conversation(messages)
    assert finding.value == "+14155550123" and finding.messages == (0, 1, 2, 3, 4)


def test_the_other_partys_interjection_does_not_break_a_split() -> None:
    messages = [("seller", "my cell 415"), ("buyer", "?"), ("seller", "555 0123")]
    (finding,) = scan_conversation(messages)
    assert finding.kind == "phone" and finding.messages == (0, 2)
