"""Check-digit algorithms for the trade's own numbers and for payment identifiers.

A number that carries a valid carrier check digit is almost certainly a tracking number, and a
payment identifier is only reported when its checksum holds, which keeps random digit runs out.
"""

from __future__ import annotations

import hashlib

from pipeline.detection.keccak import keccak256

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {c: i for i, c in enumerate(_BASE58)}
# The XRP Ledger uses Base58Check with its own alphabet ("r" is zero, so addresses start with it).
_RIPPLE = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"
_RIPPLE_INDEX = {c: i for i, c in enumerate(_RIPPLE)}
# Monero's base58 encodes 8-byte blocks as 11 characters; a short last block uses fewer.
_MONERO_BLOCK_BYTES = {0: 0, 2: 1, 3: 2, 5: 3, 6: 4, 7: 5, 9: 6, 10: 7, 11: 8}
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(_BECH32)}


def usps_valid(digits: str) -> bool:
    """USPS IMpb (20 or 22 digits): mod-10 with weights 3,1 from the right."""
    if len(digits) not in (20, 22) or not digits.isdigit():
        return False
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def fedex_valid(digits: str) -> bool:
    """FedEx Express (12 digits, weights 1,3,7 mod 11) or Ground (15 digits, mod 10)."""
    if not digits.isdigit():
        return False
    if len(digits) == 12:
        weights = (1, 3, 7)
        total = sum(int(d) * weights[i % 3] for i, d in enumerate(reversed(digits[:11])))
        return total % 11 % 10 == int(digits[11])
    if len(digits) == 15:
        return usps_valid_mod10(digits)
    return False


def usps_valid_mod10(digits: str) -> bool:
    """Generic 3-1 weighted mod-10 check digit (FedEx Ground, GS1 barcodes)."""
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def dhl_valid(digits: str) -> bool:
    """DHL Express waybill (10 digits): the first nine modulo 7 give the last."""
    return len(digits) == 10 and digits.isdigit() and int(digits[:9]) % 7 == int(digits[9])


def ups_valid(code: str) -> bool:
    """UPS 1Z tracking number (18 characters) with its mod-10 check character."""
    code = code.upper()
    if len(code) != 18 or not code.startswith("1Z") or not code.isalnum():
        return False
    values = [int(c) if c.isdigit() else (ord(c) - 63) % 10 for c in code[2:17]]
    total = sum(v * (2 if i % 2 else 1) for i, v in enumerate(values))
    return code[17].isdigit() and (10 - total % 10) % 10 == int(code[17])


def tracking_valid(digits: str) -> bool:
    """True when an all-digit run is a carrier tracking number with a valid check digit."""
    return usps_valid(digits) or fedex_valid(digits) or (len(digits) == 22 and usps_valid_mod10(digits))


# IBAN length by country (SWIFT's IBAN registry, plus the countries that issue IBAN-form account
# numbers outside it, mostly in West and Central Africa). A string whose country has no IBAN, or
# whose length is not that country's, is not an IBAN however its check digits fall: without this,
# one random code in 97 that starts with two letters and two digits "passed".
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AO": 25, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BF": 28, "BG": 22,
    "BH": 22, "BI": 27, "BJ": 28, "BR": 29, "BY": 28, "CF": 27, "CG": 27, "CH": 21, "CI": 28, "CM": 27,
    "CR": 22, "CV": 25, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "DZ": 26, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GA": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GQ": 27, "GR": 27, "GT": 28, "GW": 25, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23,
    "IQ": 23, "IR": 26, "IS": 26, "IT": 27, "JO": 30, "KM": 27, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MA": 28, "MC": 27, "MD": 24, "ME": 22, "MG": 27,
    "MK": 19, "ML": 28, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "MZ": 25, "NE": 28, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SN": 28, "SO": 23, "ST": 25,
    "SV": 28, "TD": 27, "TG": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
}


def iban_valid(iban: str) -> bool:
    """ISO 13616 IBAN: a country that issues IBANs, that country's length, check digits, mod-97 == 1."""
    iban = iban.replace(" ", "").upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit() or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def aba_valid(digits: str) -> bool:
    """US ABA routing number: weights 3,7,1 sum to a multiple of ten."""
    if len(digits) != 9 or not digits.isdigit() or digits == "000000000":
        return False
    weights = (3, 7, 1)
    return sum(int(d) * weights[i % 3] for i, d in enumerate(digits)) % 10 == 0


def _base58_number(text: str, alphabet: dict[str, int] = _BASE58_INDEX) -> int | None:
    """The integer a base58 string spells in ``alphabet``, or None for a character outside it."""
    number = 0
    for char in text:
        index = alphabet.get(char)
        if index is None:
            return None
        number = number * 58 + index
    return number


def base58check_payload(address: str, alphabet: dict[str, int] = _BASE58_INDEX) -> bytes | None:
    """Decode a Base58Check string and return its payload if the 4-byte checksum holds."""
    if not 25 <= len(address) <= 40:
        return None
    number = _base58_number(address, alphabet)
    if number is None:
        return None
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    zero = next(c for c, i in alphabet.items() if i == 0)
    raw = b"\x00" * (len(address) - len(address.lstrip(zero))) + raw
    payload, checksum = raw[:-4], raw[-4:]
    if len(payload) < 2:
        return None
    digest = hashlib.sha256(hashlib.sha256(payload).digest()).digest()
    return payload if digest[:4] == checksum else None


def bech32_valid(address: str, prefixes: tuple[str, ...]) -> bool:
    """Segwit bech32/bech32m address with one of the human-readable ``prefixes``."""
    if address.lower() != address and address.upper() != address:
        return False
    address = address.lower()
    separator = address.rfind("1")
    if separator < 1 or address[:separator] not in prefixes or len(address) - separator < 7:
        return False
    data = [_BECH32_INDEX.get(c, -1) for c in address[separator + 1 :]]
    if -1 in data:
        return False
    hrp = address[:separator]
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data
    return _bech32_polymod(values) in (1, 0x2BC830A3)


def _bech32_polymod(values: list[int]) -> int:
    """BIP-173 checksum polynomial."""
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            checksum ^= generator[i] if (top >> i) & 1 else 0
    return checksum


def eth_valid(address: str) -> bool:
    """Ethereum-style 0x address: single-case hex, or mixed case matching EIP-55."""
    if len(address) != 42 or not address.startswith(("0x", "0X")):
        return False
    body = address[2:]
    try:
        int(body, 16)
    except ValueError:
        return False
    if body.lower() == body or body.upper() == body:
        return True
    digest = keccak256(body.lower().encode()).hex()
    return all(
        (c.upper() if int(digest[i], 16) >= 8 else c.lower()) == c for i, c in enumerate(body)
    )


def crypto_address_chain(address: str) -> str | None:
    """Name the chain of a checksummed crypto address (btc, ltc, trx, doge, eth, xrp, xmr) or None."""
    if address.startswith(("0x", "0X")):
        return "eth" if eth_valid(address) else None
    lowered = address.lower()
    if lowered.startswith("bc1"):
        return "btc" if bech32_valid(address, ("bc",)) else None
    if lowered.startswith("ltc1"):
        return "ltc" if bech32_valid(address, ("ltc",)) else None
    if address[0] == "r":
        payload = base58check_payload(address, _RIPPLE_INDEX)
        return "xrp" if payload is not None and len(payload) == 21 and payload[0] == 0 else None
    if len(address) in (95, 106) and address[0] in "48":
        return "xmr" if monero_valid(address) else None
    payload = base58check_payload(address)
    if payload is None:
        return None
    return _base58_chain(payload[0], len(payload))


def _base58_chain(version: int, length: int) -> str | None:
    """Map a Base58Check version byte to the chain that uses it."""
    if length != 21:
        return None
    return {0x00: "btc", 0x05: "btc", 0x30: "ltc", 0x32: "ltc", 0x41: "trx", 0x1E: "doge", 0x16: "doge"}.get(version)


def monero_valid(address: str) -> bool:
    """Monero standard (95 chars) or integrated (106 chars) address: keccak-256 checksum holds."""
    raw = bytearray()
    for start in range(0, len(address), 11):
        block = address[start : start + 11]
        size = _MONERO_BLOCK_BYTES.get(len(block))
        if size is None:
            return False
        number = _base58_number(block)
        if number is None or number >= 1 << (8 * size):
            return False
        raw += number.to_bytes(size, "big")
    if raw[0] not in (0x12, 0x13, 0x2A):
        return False
    return keccak256(bytes(raw[:-4]))[:4] == raw[-4:]


def solana_key(token: str) -> bool:
    """A base58 string of 32-44 characters that decodes to exactly 32 bytes (a Solana public key).

    Solana keys carry no checksum; callers only report them with a crypto word nearby or when the
    string mixes upper case, lower case and digits the way random keys do.
    """
    if not 32 <= len(token) <= 44:
        return False
    number = _base58_number(token)
    if number is None:
        return False
    zeros = len(token) - len(token.lstrip("1"))
    return zeros + (number.bit_length() + 7) // 8 == 32 and number.bit_length() > 240
