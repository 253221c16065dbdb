"""context_findings: what a conversation reveals beyond each new message alone."""

from pipeline.detection.conversation import context_findings

CHAT = [
    ("buyer", "is the 10 oz bar still here?"),
    ("seller", "yes"),
    ("seller", "text me, number is 312"),
    ("seller", "555"),
    ("seller", "0147"),
]


def test_split_phone_is_reported_with_absolute_indexes():
    found = context_findings(CHAT, [4])
    phones = [f for f in found if f.kind == "phone"]
    assert [(f.value, f.messages) for f in phones] == [("+13125550147", (2, 3, 4))]
    assert {s.message for s in phones[0].spans} == {2, 3, 4}


def test_what_a_message_yields_alone_is_left_to_the_per_message_scan():
    # "text me" is intent in message 2 by itself: not repeated as a conversation finding.
    assert all(f.kind != "intent" for f in context_findings(CHAT, [2, 3, 4]))


def test_findings_must_touch_a_new_message():
    assert context_findings(CHAT, [0]) == []
    assert context_findings(CHAT, []) == []


def test_long_history_before_the_new_messages_is_not_rescanned():
    history = [("buyer", f"question {i}: what about the 1oz Maple, price 31.{i:02d}?") for i in range(500)]
    found = context_findings(history + CHAT, [len(history) + 4])
    assert [f.messages for f in found if f.kind == "phone"] == [(502, 503, 504)]
