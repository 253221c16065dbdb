"""Floors on the integrator's own held-out cases (see cases.py)."""

from pipeline.detection import scan_conversation, scan_text
from tests.heldout.cases import CLEAN, CONTACT, CONVERSATIONS


def test_single_messages_generalise():
    caught = [text for text, _ in CONTACT if scan_text(text)]
    false_alarms = [text for text in CLEAN if scan_text(text)]
    recall = len(caught) / len(CONTACT)
    precision = len(caught) / (len(caught) + len(false_alarms))
    assert recall >= 0.92, sorted(set(t for t, _ in CONTACT) - set(caught))
    assert precision >= 0.95, false_alarms


def test_kinds_are_named_right_most_of_the_time():
    typed = sum(1 for text, kinds in CONTACT if {f.kind for f in scan_text(text)} & set(kinds))
    assert typed / len(CONTACT) >= 0.9


def test_split_attempts_generalise():
    for messages, label, kinds in CONVERSATIONS:
        found = scan_conversation(messages)
        if label == "clean":
            assert found == [], (messages, found)
        else:
            assert {f.kind for f in found} & set(kinds), (messages, found)
