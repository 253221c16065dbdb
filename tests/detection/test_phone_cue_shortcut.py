"""``languages.has_phone_cue`` looks for the ASCII multi-word cues alone in an ASCII text (session s11-steady).

Compared with the loop over every non-Latin cue it replaced, on the hand-written cases and on
generated texts that hold the cues (ASCII ones such as "call karo" and "m-pesa", and Cyrillic,
Chinese and accented ones, alone and together, in different orders).
"""

from __future__ import annotations

import random

from pipeline.detection import languages
from pipeline.detection.gates import message_words
from pipeline.detection.normalise import normalise
from tests.detection.cases import NEGATIVES, POSITIVES


def _reference(text, gate, vocabulary=languages.VOCABULARY):
    for word in gate.words & vocabulary.latin_cues:
        return vocabulary.phone_cues[word]
    if not text.isascii() or " " in text:
        for cue in vocabulary.nonlatin_cues:
            if cue in gate.lowered:
                return vocabulary.phone_cues[cue]
    return None


def test_phone_cue_is_the_first_cue_of_the_full_list():
    vocabulary = languages.VOCABULARY
    assert vocabulary.ascii_nonlatin_cues and len(vocabulary.ascii_nonlatin_cues) < len(vocabulary.nonlatin_cues)
    rng = random.Random(17)
    cues = list(vocabulary.nonlatin_cues)
    filler = ["my", "number", "555 0123", "4155550123", "ok", "é", "call", "ring", "x", ""]
    texts = [t for t, _ in POSITIVES] + list(NEGATIVES)
    for _ in range(5_000):
        words = [rng.choice(cues if rng.random() < 0.4 else filler) for _ in range(rng.randint(1, 6))]
        texts.append(rng.choice([" ", "", ", "]).join(words))
    named = 0
    for text in texts:
        folded = normalise(text).text
        gate = message_words(folded)
        expected = _reference(folded, gate)
        assert languages.has_phone_cue(folded, gate) == expected, text
        named += expected is not None and gate.lowered.isascii()
    assert named > 500
