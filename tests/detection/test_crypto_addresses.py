"""Every checksum-valid address of each chain the detector claims is found, whatever surrounds it.

Addresses are built from random bytes by ``tests/detection/addressgen.py`` (its own encoders, not
the detector's decoders), placed in neutral sentences with no crypto word, and must come back as
one payment finding naming the chain, with the exact span of the address.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.detection import scan_text
from tests.detection.addressgen import address, monero, ripple, solana

# Sentences that name no chain, no wallet and no payment word.
_FRAMES = ("send to {}", "{}", "here: {} thanks", "ok ({}) — see you", "use {}.", "{}\nship monday")


def _build(chain: str, seed: bytes, variant: int) -> str:
    if chain == "xrp":
        return ripple(seed)
    if chain == "xmr":
        return monero(seed + hashlib.sha256(seed).digest())
    if chain == "sol":
        return solana(seed)
    return address(chain, seed, variant)


@pytest.mark.parametrize("chain", ["btc", "ltc", "trx", "doge", "eth", "xrp", "xmr", "sol"])
@settings(max_examples=2000, deadline=None, database=None)
@given(seed=st.binary(min_size=32, max_size=32), variant=st.integers(0, 5), frame=st.sampled_from(_FRAMES))
def test_every_valid_address_is_found_without_nearby_words(chain, seed, variant, frame):
    addr = _build(chain, seed, variant)
    if chain == "sol":
        # Solana keys carry no checksum: only keys that look random (upper, lower and digits mixed,
        # as all but a vanishing share of real ones do) are claimed without a crypto word nearby.
        assume(not addr.isalpha() and not addr.isdigit() and not addr.islower() and not addr.isupper())
    text = frame.format(addr)
    start = text.index(addr)
    payments = [f for f in scan_text(text) if f.kind == "payment"]
    assert len(payments) == 1, (text, payments)
    assert payments[0].value == chain
    assert (payments[0].spans[0].start, payments[0].spans[0].end) == (start, start + len(addr))
    assert payments[0].match == addr


@settings(max_examples=500, deadline=None, database=None)
@given(seed=st.binary(min_size=32, max_size=32), chain=st.sampled_from(["btc", "trx", "ltc", "eth"]))
def test_a_reversed_address_is_read_right_to_left(seed, chain):
    addr = address(chain, seed, 0)
    text = "backwards so the filter misses it: " + addr[::-1]
    [finding] = [f for f in scan_text(text) if f.kind == "payment"]
    assert finding.value == chain + ":reversed"
    assert finding.match == addr[::-1]


@settings(max_examples=500, deadline=None, database=None)
@given(seed=st.binary(min_size=32, max_size=32), flip=st.integers(0, 24))
def test_a_broken_checksum_without_crypto_words_stays_clean(seed, flip):
    addr = address("btc", seed, 0)
    position = 1 + flip
    replacement = "2" if addr[position] != "2" else "3"
    broken = addr[:position] + replacement + addr[position + 1 :]
    assert [f for f in scan_text("serial " + broken) if f.kind == "payment"] == []


@pytest.mark.parametrize(
    "text",
    [
        "Tracking 9400111899223033445566 posted",
        "UPS 1Z999AA10123456784 signature needed",
        "cert 44192810 and order PM20241188341122 shipped",
        "photo file IMG20241103153012345678901.jpg",
        "SKU ABCDEFGHIJKLMNOPQRSTUVWXYZ0123 on the label",
    ],
)
def test_trade_numbers_and_long_tokens_are_not_addresses(text):
    assert [f for f in scan_text(text) if f.kind == "payment"] == []


def test_a_dot_word_inside_an_address_is_not_rewritten() -> None:
    """ "punt" (Dutch/Catalan "dot") inside a bech32 address once became "." and lost the address (found by hypothesis in CI)."""
    found = scan_text("send to bc1qqqqqqqqqqqqqqqqq9punt7qqqqqqqqqqjnp28q")
    assert [(f.kind, f.value) for f in found] == [("payment", "btc")]
