"""API tokens: create one (shown once), authenticate a bearer, list, revoke.

A token is ``pgt_<key id>_<secret>``. The key id finds the row; only the SHA-256 of the secret is
stored and it is compared in constant time, so neither a database dump nor timing reveals a token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from storage import tokens as store
from storage.db import transaction
from usecases.app import App

SCOPES = ("ingest", "read", "scan", "webhooks")
PREFIX = "pgt"
CACHE_SECONDS = 2.0
"""How long a verified token is trusted without reading its row again (also the revocation delay)."""


class TokenError(ValueError):
    """A token could not be created (bad name or scope)."""


class InvalidToken(Exception):
    """The bearer token is malformed, unknown, wrong or revoked."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name (for logs) and its scopes."""

    name: str
    key_id: str
    scopes: frozenset[str]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(raw: Iterable[str]) -> list[str]:
    """Known scopes, deduplicated, in the canonical order; raise TokenError for an unknown one."""
    wanted = {scope.strip() for part in raw for scope in part.split(",") if scope.strip()}
    unknown = wanted - set(SCOPES)
    if unknown or not wanted:
        raise TokenError(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(sorted(unknown)) or 'none'}")
    return [scope for scope in SCOPES if scope in wanted]


def create_token(app: App, name: str, scopes: Iterable[str], now: datetime) -> str:
    """Record a new token and return it (the only time the whole token exists)."""
    name = name.strip()
    if not name or len(name) > 200 or not name.isprintable():
        raise TokenError("a token needs a printable name of at most 200 characters")
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    with transaction(app.session_factory) as session:
        store.insert_token(session, key_id, name, _digest(secret), parse_scopes(scopes), now)
    return f"{PREFIX}_{key_id}_{secret}"


_verified: dict[str, tuple[float, Principal]] = {}


def recently_verified(bearer: str) -> Principal | None:
    """The principal of a token verified less than CACHE_SECONDS ago (no database read), else None."""
    cached = _verified.get(bearer)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    return None


def authenticate(app: App, bearer: str) -> Principal:
    """The principal of a bearer token; raise InvalidToken for anything else."""
    cached = recently_verified(bearer)
    if cached is not None:
        return cached
    prefix, _, rest = bearer.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not key_id or not secret or len(bearer) > 200:
        raise InvalidToken("malformed token")
    with app.session_factory() as session:
        row = store.token_by_key(session, key_id)
    # Hash and compare even when the key is unknown, so both cases cost the same.
    expected = row.secret_sha256 if row else "0" * 64
    if not hmac.compare_digest(_digest(secret), expected) or row is None or row.revoked_at is not None:
        raise InvalidToken("unknown or revoked token")
    principal = Principal(row.name, row.key_id, frozenset(row.scopes))
    if len(_verified) > 10_000:
        _verified.clear()
    _verified[bearer] = (time.monotonic(), principal)
    return principal


def list_tokens(app: App) -> list[store.TokenRow]:
    with app.session_factory() as session:
        return store.list_tokens(session)


def revoke(app: App, key_id_or_name: str, now: datetime) -> int:
    """Revoke by key id or name; return how many tokens were revoked."""
    with transaction(app.session_factory) as session:
        revoked = store.revoke_tokens(session, key_id_or_name, now)
    _verified.clear()
    return revoked
