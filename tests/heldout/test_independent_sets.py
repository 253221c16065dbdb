"""Floors on the second and third independent sets (tests/heldout/second/, tests/heldout/third/).

Written by a helper from the labelling guide alone, without seeing the detector or the dev
corpus. Its first score (commit 4b9833d) was message recall 0.780, precision 1.000,
conversation recall 0.850; its misses then guided general changes (foreign phone formats,
S/B/Z digit swaps, "I'm on <app>", split app names, softer intent phrasings), so from that
point it is a development set too and these floors guard against regressions only.

The third set (160 messages, 20 conversations) was written the same way after those changes
and scored once, untuned (commit 69a036f): messages precision 1.000, recall 0.9375 (75/80);
conversations precision 1.000, recall 0.846 (11/13). Five of its misses then led to general
rules (asking for "an email", "write your number", "arrange it between us", apps named by icon
colour, "_AT_"/"_DOT_" addresses), so it is a development set now too: 80/80 messages, 12/13
conversations. Its floors stay at the first score.

The fourth set (160 messages, 20 conversations), written later still, scored untuned (commit
1ffba2f + one intent change): messages precision 0.986, recall 0.850; conversations 12/13 with one
false alarm (qc19, whose first message asks "do you take Zelle?", so the label is arguable). Its
misses then led to general rules (leaving the platform in German, French, Spanish, Portuguese;
"guasap", "WA me"; "do you have Signal?"; "discord between"; {arroba}/{punto}; Pix; foreign cue
words), so it is a development set too now; floors at the first score.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.detection import scan_conversation, scan_text

HERE = Path(__file__).resolve().parent
# set name -> (message recall floor, missed contact conversations allowed, clean conversations flagged allowed)
FLOORS = {"second": (0.96, 1, 0), "third": (0.93, 2, 0), "fourth": (0.85, 1, 1)}


def _rows(folder: str, name: str) -> list[dict]:
    path = HERE / folder / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("folder", sorted(FLOORS))
def test_messages_keep_their_recall_and_precision(folder):
    rows = _rows(folder, "messages.jsonl")
    flagged = {row["id"]: bool(scan_text(row["text"])) for row in rows}
    contact = [row for row in rows if row["label"] == "contact"]
    clean = [row for row in rows if row["label"] == "clean"]
    caught = [row for row in contact if flagged[row["id"]]]
    false_alarms = [row["text"] for row in clean if flagged[row["id"]]]
    assert len(contact) >= 80 and len(clean) >= 80
    assert len(caught) / len(contact) >= FLOORS[folder][0], [row["text"] for row in contact if not flagged[row["id"]]]
    assert false_alarms == []


@pytest.mark.parametrize("folder", sorted(FLOORS))
def test_conversations_keep_their_recall_and_raise_no_false_alarm(folder):
    rows = _rows(folder, "conversations.jsonl")
    missed, false_alarms = [], []
    for row in rows:
        found = scan_conversation(row["messages"])
        if row["label"] == "clean" and found:
            false_alarms.append((row["id"], found))
        if row["label"] == "contact" and not found:
            missed.append(row["id"])
    assert len(false_alarms) <= FLOORS[folder][2], false_alarms
    assert len(missed) <= FLOORS[folder][1], missed
