"""Email addresses and platform domains: the one parser of each, used at import, in settings and at send.

An address that passes here is one bare ``local@domain.tld`` with nothing a mail header could
misread: no display name, no list separators, no whitespace or control character of any kind
(tab, vertical tab, form feed, NEL and the Unicode line and paragraph separators included).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from email.headerregistry import Address

DEFAULT_PLATFORM_DOMAINS = ("peermetals.com",)
_FORBIDDEN = frozenset("<>,;\"()[]\\")


class InvalidAddress(ValueError):
    """The text is not one usable email address; retrying will not help."""


def _has_space_or_control(text: str) -> bool:
    return any(c.isspace() or not c.isprintable() for c in text)


def parse_address(raw: str | None) -> Address:
    """Parse one bare address; raise InvalidAddress for anything else."""
    if not raw or _has_space_or_control(raw) or raw.count("@") != 1 or any(c in _FORBIDDEN for c in raw):
        raise InvalidAddress(f"not a single plain address: {raw!r}")
    # The email package's header parser is loaded on first use: importing it costs about 10 ms, and
    # every command imports this module through the settings (the read-only ones never parse).
    from email.errors import HeaderParseError
    from email.headerregistry import Address

    try:
        address = Address(addr_spec=raw)
    except (ValueError, IndexError, TypeError, HeaderParseError) as exc:  # "a@.b.c" raises HeaderParseError
        raise InvalidAddress(f"not a valid address: {raw!r}") from exc
    if not address.username or "." not in address.domain or address.domain.startswith(".") or address.domain.endswith("."):
        raise InvalidAddress(f"not a valid address: {raw!r}")
    return address


_SIMPLE = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", re.ASCII)
"""A subset of what ``parse_address`` accepts (ASCII dot-atoms, a dotted domain), decided without the
email package's header parser, which costs ~90 us an address: 90 ms for an import's 1,000 users, all of
it before the first batch can be applied. Anything else still goes through the parser."""


def is_plain_address(raw: str | None) -> bool:
    """True when ``raw`` is one bare, usable address."""
    if raw and _SIMPLE.fullmatch(raw):
        return True
    try:
        parse_address(raw)
    except InvalidAddress:
        return False
    return True


def normalise_domain(raw: str) -> str:
    """A domain in lower case without its trailing dot; raise ValueError if it is not one."""
    domain = raw.strip().lower().rstrip(".")
    if "." not in domain or _has_space_or_control(domain) or any(c in "/@:" for c in domain):
        raise ValueError(f"not a domain: {raw!r}")
    return domain


def parse_domains(raw: str | None, default: tuple[str, ...] = DEFAULT_PLATFORM_DOMAINS) -> tuple[str, ...]:
    """Comma-separated domains (the platform's own); empty means ``default``."""
    if raw is None or not raw.strip():
        return default
    return tuple(normalise_domain(part) for part in raw.split(",") if part.strip()) or default
