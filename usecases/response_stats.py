"""Seller response statistics (`peerguard sellers stats`, the dashboards, the user lookup).

Kept apart from ``usecases.responses`` (the deadline sweep, its notices and webhooks) so that the
read-only command imports only this, the pure rules and a plain-SQL read: see ``storage.direct``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline.responses import ResponsePolicy, SellerResponseStats, stats_from_summary, summarise
from storage.direct import Reader
from storage.response_stats import seller_records, seller_summaries


@dataclass(frozen=True)
class SellerStatsRow:
    """One seller's identity and response statistics; ``seller_id`` stays inside, ``external_id`` (u-…) is shown."""

    seller_id: int
    external_id: str
    email: str | None
    name: str
    stats: SellerResponseStats


def seller_rows(reader: Reader, policy: ResponsePolicy, now: datetime, seller_email: str | None = None) -> list[SellerStatsRow]:
    """Statistics over the policy's window for every seller with deadlines in it (or just one, by email).

    PostgreSQL summarises each seller's records itself (``storage.response_stats.seller_summaries``,
    checked against ``summarise``); elsewhere the records are read and summarised here.
    """
    if reader.dialect == "postgresql":
        return [SellerStatsRow(s.seller_id, s.external_id, s.email, s.name, stats_from_summary(s.summary))
                for s in seller_summaries(reader, now, policy, seller_email)]
    sellers = seller_records(reader, now - policy.stats_window, now, seller_email)
    return [SellerStatsRow(s.seller_id, s.external_id, s.email, s.name, stats_from_summary(summarise(s.records, now, policy)))
            for s in sellers]
