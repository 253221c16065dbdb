"""Carrier and payment check digits."""

from __future__ import annotations

from pipeline.detection.checksums import (
    aba_valid,
    crypto_address_chain,
    dhl_valid,
    eth_valid,
    fedex_valid,
    iban_valid,
    ups_valid,
    usps_valid,
)
from pipeline.detection.keccak import keccak256


def test_keccak_matches_the_known_empty_digest() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_carrier_numbers() -> None:
    assert usps_valid("9400111899562210043713") and not usps_valid("9400111899562210043714")
    assert ups_valid("1Z999AA10123456784") and not ups_valid("1Z999AA10123456785")
    assert fedex_valid("287511264494") and not fedex_valid("287511264495")
    assert dhl_valid("7719304622") and not dhl_valid("7719304623")


def test_bank_numbers() -> None:
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")
    assert aba_valid("021000021") and not aba_valid("021000022")


def _with_check_digits(country: str, bban: str) -> str:
    """The IBAN whose mod-97 check digits are right for ``country`` + ``bban`` (ISO 13616)."""
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


def test_an_iban_needs_a_country_that_issues_them_and_its_length() -> None:
    for real in ("DE89370400440532013000", "FR1420041010050500013M02606", "NO9386011117947",
                 "BE68539007547034", "MT84MALT011000012345MTLCAST001S", "BR1800360305000010009795493C1"):
        assert iban_valid(real), real
    # Right check digits, but Nepal issues no IBAN: a gift-card code of this shape is not one.
    assert not iban_valid(_with_check_digits("NP", "J3PNVEA5F051"))
    # Right check digits and a real country, wrong length for it (Germany's are 22 characters).
    assert not iban_valid(_with_check_digits("DE", "3704004405320130001"))
    assert iban_valid(_with_check_digits("DE", "370400440532013000"))


def test_crypto_addresses() -> None:
    assert crypto_address_chain("1KcyuWgVfrGsKdXxfkCYeoPjGKt8JAxSHs") == "btc"
    assert crypto_address_chain("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq") == "btc"
    assert crypto_address_chain("LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1") == "ltc"
    assert crypto_address_chain("TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7") == "trx"
    assert crypto_address_chain("1KcyuWgVfrGsKdXxfkCYeoPjGKt8JAxSHt") is None
    assert eth_valid("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    assert not eth_valid("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")
