"""``scan_text_without_phones`` is ``scan_text`` less its phone findings, in the same order.

Assembled variants (``conversation._assembled``) keep no phone finding; their scanner skips the
phone detector where no other detector hit. Checked on the hand-written cases, on every pair and
triple of them joined (variants are joined messages), on generated text, and where a phone hit
changes what the others keep (``resolve``'s ``MAX_MATCHES`` cut, a decoded phone).
"""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.detection import scanner
from pipeline.detection.hits import MAX_MATCHES
from pipeline.detection.scanner import scan_text, scan_text_without_phones
from tests.detection.cases import NEGATIVES, POSITIVES

TEXTS = [text for text, _ in POSITIVES] + list(NEGATIVES)


def _expected(text: str, domains=scanner.DEFAULT_PLATFORM_DOMAINS) -> list:
    return [f for f in scan_text(text, platform_domains=domains) if f.kind != "phone"]


def test_the_cases_alone_and_joined():
    rng = random.Random(6)
    joined = [" ".join(rng.sample(TEXTS, k)) for k in (2, 2, 3, 4) for _ in range(150)]
    checked = 0
    for text in TEXTS + joined:
        assert scan_text_without_phones(text) == _expected(text), text
        checked += bool(_expected(text))
    assert checked > 200  # most texts hold a finding of a kept kind, so the comparison says something


def test_phones_next_to_other_kinds_keep_the_others_and_their_order():
    phone_only = "my digits 720 443 9182"
    assert [f.kind for f in scan_text(phone_only)] == ["phone"]
    assert scan_text_without_phones(phone_only) == []
    mixed = "call me at 415 555 0123 or email stacker9@gmail.com, zelle works too"
    assert {"phone", "email", "payment"} <= {f.kind for f in scan_text(mixed)}
    assert scan_text_without_phones(mixed) == _expected(mixed)


def test_the_match_cap_counts_phone_hits_as_the_full_scan_does():
    # More hits than MAX_MATCHES: phone hits early in the text push the later payments past the cap.
    tail = " ".join(f"venmo @coin_guy{i}" for i in range(20))
    text = " ".join(f"call 415 555 {1000 + i:04d}" for i in range(MAX_MATCHES)) + " " + tail
    expected = _expected(text)
    assert scan_text_without_phones(text) == expected
    assert [f for f in expected if f.kind == "payment"] == [] and len(_expected(tail)) == 20  # cut by the phones


def test_the_phone_detector_is_skipped_only_where_nothing_else_hit(monkeypatch):
    calls: list[str] = []
    real = scanner.find_phones

    def counting(text, gate=None):
        calls.append(text)
        return real(text, gate)

    monkeypatch.setattr(scanner, "find_phones", counting)
    scan_text_without_phones("my digits 720 443 9182")
    assert calls == []
    scan_text_without_phones("my digits 720 443 9182 or zelle me")
    assert len(calls) == 1


def test_other_platform_domains():
    domains = ("coinbarn.me",)
    for text in ("see coinbarn.me or call 415 555 0123", "shop at peermetals.com/lot/5, text 6462983371"):
        assert scan_text_without_phones(text, platform_domains=domains) == _expected(text, domains)


PIECES = st.sampled_from(
    [t for t in TEXTS if len(t) < 60] + ["415", "555 0123", "six four six", " at ", " dot com", "zelle", "@", "0x", "call",
                                         "whatsapp", "venmo", "ɐ", "-.-.", "2125550147", "7 2 0"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=6).map(" ".join))
def test_generated_joins(text):
    assert scan_text_without_phones(text) == _expected(text)


def test_pairs_of_short_cases():
    short = [t for t in TEXTS if len(t) < 50][:40]
    for a, b in itertools.product(short, repeat=2):
        text = f"{a} {b}"
        assert scan_text_without_phones(text) == _expected(text), text
