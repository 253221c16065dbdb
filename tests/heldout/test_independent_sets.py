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

The fifth set (155 messages: 81 contact, 74 clean; 32 conversations) was written for issue 15 by
the engineer who then changed the detector, before the change, from the issue's evasion families
(commit e8f9778). Untuned: messages precision 0.9375, recall 0.370; conversations precision
0.833, recall 0.3125. It was then tuned on (issue 15's rules), so it guards against regressions
only: at commit time messages precision 1.000, recall 0.802 (65/81); conversations 13/16 found,
one clean thread flagged (fc23). The floors sit at those figures; the remaining misses are listed
in docs/benchmarks.md. After branch s4-detqual (local numbers without an area code, app names as
verbs, area codes named by place...) it scores recall 0.864 and 14/16 conversations with no
false alarm; its floors moved up to just below that.

The sixth set (188 messages: 108 contact, 80 clean; 49 conversations: 33 contact, 16 clean) was
written for issue 15 on branch s4-detqual before any detector change (commit e4eff81), from the
issue's families with new sentences and more languages and rails. Untuned: messages precision
0.965, recall 0.759; conversations precision 0.969, recall 0.939. It was then tuned on (rules by
family, checked on generated variants in tests/detection/test_families.py): messages precision
1.000, recall 0.991; conversations 32/33 found, one clean thread flagged (sc45, a buyer asking
"do you use telegram?", arguable). Floors a little below.

The seventh set (168 messages: 112 contact, 56 clean; 42 conversations: 30 contact, 12 clean) was
written for issue 15 on branch s6-seventh before any detector change, with new sentences in the
issue's families (nine languages, app riddles, styled/hidden Unicode, puzzles, XRP/SOL/TRC20/XMR,
gift cards, cash) and hard negatives (checkout questions, foreign trade numbers, split tracking
numbers). Untuned: messages precision 1.000, recall 0.946 (106/112); conversations precision
0.964, recall 0.900, F1 0.931 (27/30, one clean thread flagged: vc38, "do you have telegram?" / "no,
I only use this app"). Floors sit at that first score.

The eighth set (165 messages: 105 contact, 60 clean; 44 conversations: 30 contact, 14 clean) was
written on branch s7-detect before any detector change (commits a32ccf2, dc4a62f), in sixteen
languages (hi, id, sw, tl, zh, it, tr, pl, ar besides en/es/pt/fr/de/ru/sv) with hard negatives
(negations of leaving in every one of them, checkout questions, trade numbers of many carriers).
Untuned: messages precision 0.902 (10 clean flagged: negations in it/ar/sw/hi/id/tr, checkout
questions, a Polish parcel number), recall 0.876 (92/105); conversations precision 0.964, recall
0.900, F1 0.931 (27/30, one clean thread flagged: "non pagare fuori"). It was then tuned on
(negators, trade, checkout and via words per language in the data file, area codes told as sums),
so floors sit at the untuned score and guard against regressions only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.detection import scan_conversation, scan_text

HERE = Path(__file__).resolve().parent
# set name -> (message recall floor, missed contact conversations allowed, clean conversations flagged allowed)
FLOORS = {"second": (0.96, 1, 0), "third": (0.93, 2, 0), "fourth": (0.85, 1, 1), "fifth": (0.84, 3, 0), "sixth": (0.96, 2, 1), "seventh": (0.94, 3, 1), "eighth": (0.87, 3, 1)}
# set name -> (contact, clean) messages it must hold at least
SIZES = {"second": (80, 80), "third": (80, 80), "fourth": (80, 80), "fifth": (80, 70), "sixth": (100, 80), "seventh": (110, 55), "eighth": (105, 60)}


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
    assert len(contact) >= SIZES[folder][0] and len(clean) >= SIZES[folder][1]
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
