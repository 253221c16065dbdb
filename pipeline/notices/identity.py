"""Who the notices come from, and display names made safe to print in a header or greeting."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class MailIdentity:
    """Who the notices come from and which domain hosts links and Message-IDs."""

    from_address: str
    from_name: str
    platform_domain: str
    unsubscribe_secret: str


@lru_cache(maxsize=65536)
def safe_display_name(name: str | None) -> str:
    """A display name with control characters folded to spaces; Address quotes the rest."""
    if not name:
        return ""
    return " ".join("".join(c if c.isprintable() else " " for c in name).split())[:120]
