"""Sellers' response records for the statistics, as plain SQL over a ``storage.direct.Reader``.

`peerguard sellers stats` runs this on the bare driver (no SQLAlchemy import); the web app and
the dashboards and the user lookup run the same statement on a session (``usecases.responses``).

On PostgreSQL ``seller_summaries`` lets the database count instead of sending every record
(82,000 in a month on the benchmark's million deadlines): it returns, per seller, the
``pipeline.responses.StatsSummary`` that ``summarise`` would compute from ``seller_records``'
rows. Every comparison in it is exact (timestamps and intervals are integer microseconds in
PostgreSQL, as datetimes and timedeltas are in Python) and the median's one or two middle
response times come back as intervals, turned into seconds by Python as the rule does;
``tests/responses/test_stats_sql.py`` checks it against ``summarise`` on generated records. SQLite
keeps its timestamps as text, where differences would go through floating point, so it reads
the records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from pipeline.responses import ResponsePolicy, ResponseRecord, StatsSummary
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


# One row per seller with a deadline in the window (away ones too: such a seller shows 0 asked).
# ``spans`` holds the non-away answered response times in ascending order; the subscripts pick the
# middle one or two (1-based: (n + 1) / 2 and n / 2 + 1 in integer division, the same element for
# odd n), as ``pipeline.responses.middle_positions`` does. ``away IS NOT TRUE`` is the record's
# ``bool(away)`` being False. ``:before_target`` is now - target: ``now - started > target``
# exactly when ``started < now - target``; ``answered - started <= :target`` compares intervals,
# which PostgreSQL orders by their total microseconds whatever the session's time zone.
_SUMMARIES = """
SELECT a.seller_id, u.external_id, u.email, u.name, a.obligations, a.answered,
       a.spans[(a.answered + 1) / 2], a.spans[a.answered / 2 + 1],
       a.decided_target, a.within_target, a.decided_limit, a.within_limit
FROM (
    SELECT d.seller_id,
           count(*) FILTER (WHERE d.away IS NOT TRUE) AS obligations,
           count(d.answered_at) FILTER (WHERE d.away IS NOT TRUE) AS answered,
           array_agg(d.answered_at - d.started_at ORDER BY d.answered_at - d.started_at)
               FILTER (WHERE d.away IS NOT TRUE AND d.answered_at IS NOT NULL) AS spans,
           count(*) FILTER (WHERE d.away IS NOT TRUE
                            AND (d.answered_at IS NOT NULL OR d.started_at < :before_target)) AS decided_target,
           count(*) FILTER (WHERE d.away IS NOT TRUE AND d.answered_at - d.started_at <= :target) AS within_target,
           count(*) FILTER (WHERE d.away IS NOT TRUE
                            AND (d.answered_at IS NOT NULL OR d.started_at < :before_limit)) AS decided_limit,
           count(*) FILTER (WHERE d.away IS NOT TRUE AND d.answered_at - d.started_at <= :limit) AS within_limit
    FROM response_deadlines AS d
    WHERE d.started_at >= :since AND d.started_at <= :until AND d.superseded_at IS NULL{seller}
    GROUP BY d.seller_id
) AS a
JOIN users AS u ON u.id = a.seller_id
ORDER BY a.seller_id"""
_SUMMARY_ONE_SELLER = " AND d.seller_id IN (SELECT id FROM users WHERE lower(email) = :email)"


class SellerSummary(NamedTuple):
    """One seller's identity and ``StatsSummary``; ``external_id`` is the marketplace's (u-…)."""

    seller_id: int
    external_id: str
    email: str | None
    name: str
    summary: StatsSummary


def seller_summaries(reader: Reader, now: datetime, policy: ResponsePolicy,
                     seller_email: str | None = None) -> list[SellerSummary]:
    """PostgreSQL only: per seller, what ``summarise`` gives for ``seller_records(now - window, now)``, by seller id."""
    return list(iter_seller_summaries(reader, now, policy, seller_email))


def iter_seller_summaries(reader: Reader, now: datetime, policy: ResponsePolicy,
                          seller_email: str | None = None) -> Iterator[SellerSummary]:
    """``seller_summaries`` one seller at a time, as the rows arrive (``Reader.stream``): consume it all before the next read."""
    if reader.dialect != "postgresql":
        raise ValueError("seller_summaries runs on PostgreSQL; read seller_records elsewhere")
    parameters: dict[str, object] = {
        "since": now - policy.stats_window, "until": now,
        "target": policy.reminder_after, "before_target": now - policy.reminder_after,
        "limit": policy.breach_after, "before_limit": now - policy.breach_after,
    }
    sql = _SUMMARIES.replace("{seller}", _SUMMARY_ONE_SELLER if seller_email is not None else "")
    if seller_email is not None:
        parameters["email"] = seller_email.lower()
    for (seller_id, external_id, email, name, obligations, answered, low, high,
         decided_target, within_target, decided_limit, within_limit) in reader.stream(sql, parameters):
        middle = () if low is None else (low.total_seconds(),) if answered % 2 else (low.total_seconds(), high.total_seconds())
        yield SellerSummary(seller_id, external_id, email, name, StatsSummary(
            obligations, answered, middle, decided_target, within_target, decided_limit, within_limit))
