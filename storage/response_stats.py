"""Sellers' response records for the statistics, as plain SQL over a ``storage.direct.Reader``.

`peerguard sellers stats` runs this on the bare driver (no SQLAlchemy import); the web app and
the dashboards and the user lookup run the same statement on a session (``usecases.responses``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline.responses import ResponseRecord
from storage.direct import Reader, flag, utc

_RECORDS = """
SELECT d.seller_id, u.external_id, u.email, u.name, d.started_at, d.answered_at, d.away
FROM response_deadlines AS d
JOIN users AS u ON u.id = d.seller_id
WHERE d.started_at >= :since AND d.started_at <= :until AND d.superseded_at IS NULL"""
_ONE_SELLER = " AND lower(u.email) = :email"


@dataclass(frozen=True)
class SellerRecords:
    """One seller's identity and the obligations the statistics look at; ``external_id`` is the marketplace's (u-…)."""

    seller_id: int
    external_id: str
    email: str | None
    name: str
    records: list[ResponseRecord]


def seller_records(reader: Reader, since: datetime, until: datetime, seller_email: str | None = None) -> list[SellerRecords]:
    """Every seller's non-superseded deadlines started in [since, until] (or one seller's, by email), by seller id."""
    parameters: dict[str, object] = {"since": since, "until": until}
    sql = _RECORDS
    if seller_email is not None:
        sql += _ONE_SELLER
        parameters["email"] = seller_email.lower()
    sellers: dict[int, tuple[str, str | None, str]] = {}
    records: dict[int, list[ResponseRecord]] = {}
    for seller_id, external_id, email, name, started_at, answered_at, away in reader.rows(sql, parameters):
        sellers[seller_id] = (external_id, email, name)
        records.setdefault(seller_id, []).append(ResponseRecord(utc(started_at), utc(answered_at), flag(away)))
    return [SellerRecords(seller_id, *sellers[seller_id], found) for seller_id, found in sorted(records.items())]
