"""Hostile and malformed input: no crash, bounded time, valid offsets."""

from __future__ import annotations

import time

import pytest

from pipeline.detection import mask_text, scan_conversation, scan_text

# Generous bounds: the point is "no catastrophic backtracking", not a speed benchmark, and the
# CI machine is shared.
SECONDS = 5.0

HOSTILE = {
    "empty": "",
    "one MiB of prose": ("would you do 1,390 on the pair? " * 33000)[: 1 << 20],
    "100k digits": "7" * 100_000,
    "100k digits with separators": "720 " * 25_000,
    "digits and letters O/l": "0Ol1" * 25_000,
    "many at signs": "a@" * 50_000,
    "many dots": "a." * 50_000,
    "spelled links": "x (at) y (dot) " * 10_000,
    "spaced letters": "a " * 100_000,
    "hyphenated letters": "a-" * 100_000,
    "many channel words": "zelle venmo whatsapp text me " * 5_000,
    "spelled digits": "one two three " * 20_000,
    "long word": "w" * 200_000,
    "controls": "".join(chr(c) for c in range(32)) * 1000,
    "rtl overrides": "\u202e415\u202d 555 \u202e0123\u202c call me" * 2000,
    "lone surrogates": "\ud800call \udfff646 298 3371\ud83d",
    "combining marks": "z\u0336e\u0336l\u0336l\u0336e\u0336 " * 5000,
    "keycaps": "7\ufe0f\u20e3" * 20_000,
    "nested brackets": "(" * 50_000 + "at" + ")" * 50_000,
    "hash tags": "name#1234 " * 20_000,
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_text_is_scanned_quickly_with_valid_offsets(name: str) -> None:
    text = HOSTILE[name]
    started = time.perf_counter()
    findings = scan_text(text)
    mask_text(text, findings)
    assert time.perf_counter() - started < SECONDS, name
    for finding in findings:
        for span in finding.spans:
            assert 0 <= span.start <= span.end <= len(text)


def test_hostile_conversation_is_bounded() -> None:
    messages = [HOSTILE["100k digits"], "720", "443", HOSTILE["many at signs"], "9182"] * 3
    started = time.perf_counter()
    scan_conversation(messages)
    assert time.perf_counter() - started < SECONDS


def test_findings_survive_lone_surrogates() -> None:
    assert "phone" in {f.kind for f in scan_text(HOSTILE["lone surrogates"])}
