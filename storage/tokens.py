"""API tokens: rows keyed by a public key id, holding only the SHA-256 of the secret part."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import ApiToken


@dataclass(frozen=True)
class TokenRow:
    """A stored token as the authenticator and `tokens list` see it."""

    key_id: str
    name: str
    secret_sha256: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


def _row(token: ApiToken) -> TokenRow:
    return TokenRow(token.key_id, token.name, token.secret_sha256, tuple(token.scopes), token.created_at, token.revoked_at)


def insert_token(session: Session, key_id: str, name: str, secret_sha256: str, scopes: list[str], now: datetime) -> None:
    session.add(ApiToken(key_id=key_id, name=name, secret_sha256=secret_sha256, scopes=scopes, created_at=now))
    session.flush()


def token_by_key(session: Session, key_id: str) -> TokenRow | None:
    token = session.scalar(select(ApiToken).where(ApiToken.key_id == key_id))
    return _row(token) if token else None


def list_tokens(session: Session) -> list[TokenRow]:
    return [_row(t) for t in session.scalars(select(ApiToken).order_by(ApiToken.id))]


def revoke_tokens(session: Session, key_id_or_name: str, now: datetime) -> int:
    """Revoke the token with this key id, or every active token with this name; return how many."""
    result = session.execute(
        update(ApiToken).where((ApiToken.key_id == key_id_or_name) | (ApiToken.name == key_id_or_name),
                               ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )
    return result.rowcount
