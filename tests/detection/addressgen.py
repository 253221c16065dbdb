"""Build checksum-valid crypto addresses from raw bytes, for property-based tests and test sets.

Written from the published encodings (Base58Check, BIP-173/350 bech32, EIP-55), independently of
the detector's decoders so that a test compares two implementations rather than one with itself.
"""

from __future__ import annotations

import hashlib

from pipeline.detection.keccak import keccak256

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

# chain -> Base58Check version byte of its pay-to-key-hash / script-hash addresses
VERSIONS = {"btc": (0x00, 0x05), "ltc": (0x30, 0x32), "trx": (0x41,), "doge": (0x1E, 0x16)}


def base58check(payload: bytes) -> str:
    """Base58Check encoding of ``payload`` (version byte included)."""
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number = int.from_bytes(raw, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = B58[rest] + out
    zeros = len(raw) - len(raw.lstrip(b"\x00"))
    return "1" * zeros + out


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


def _convertbits(data: bytes, frombits: int = 8, tobits: int = 5) -> list[int]:
    acc = bits = 0
    out = []
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & ((1 << tobits) - 1))
    if bits:
        out.append((acc << (tobits - bits)) & ((1 << tobits) - 1))
    return out


def segwit(hrp: str, witness_version: int, program: bytes) -> str:
    """Segwit address: bech32 for version 0, bech32m for version 1 and later."""
    data = [witness_version] + _convertbits(program)
    const = 1 if witness_version == 0 else 0x2BC830A3
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    poly = _polymod(expanded + data + [0] * 6) ^ const
    check = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH[d] for d in data + check)


def eip55(body20: bytes) -> str:
    """Ethereum address with its EIP-55 mixed-case checksum."""
    hexed = body20.hex()
    digest = keccak256(hexed.encode()).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(hexed))


def address(chain: str, seed: bytes, variant: int = 0) -> str:
    """A valid address of ``chain`` built from 32 ``seed`` bytes; ``variant`` picks the address type."""
    if chain == "eth":
        return eip55(seed[:20])
    if chain in ("btc", "ltc") and variant % 3 == 2:
        hrp = "bc" if chain == "btc" else "ltc"
        return segwit(hrp, 0, seed[:20]) if variant % 2 == 0 else segwit(hrp, 1, seed[:32])
    versions = VERSIONS[chain]
    return base58check(bytes([versions[variant % len(versions)]]) + seed[:20])


RIPPLE = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"


def ripple(account_id: bytes) -> str:
    """XRP Ledger classic address (Base58Check, Ripple alphabet, version 0)."""
    return base58check(b"\x00" + account_id[:20]).translate(str.maketrans(B58, RIPPLE))


def monero(keys: bytes) -> str:
    """Monero standard address: network byte 0x12, two 32-byte keys, keccak checksum, block base58."""
    raw = b"\x12" + keys[:64]
    raw += keccak256(raw)[:4]
    sizes = {8: 11, 5: 7}
    out = ""
    for i in range(0, len(raw), 8):
        block = raw[i : i + 8]
        number = int.from_bytes(block, "big")
        chars = ""
        for _ in range(sizes[len(block)]):
            number, rest = divmod(number, 58)
            chars = B58[rest] + chars
        out += chars
    return out


def solana(key: bytes) -> str:
    """Solana public key: 32 bytes in plain base58 (no checksum)."""
    number = int.from_bytes(key[:32], "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = B58[rest] + out
    return "1" * (32 - len(key[:32].lstrip(b"\x00"))) + out
