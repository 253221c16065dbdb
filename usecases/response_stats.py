"""Seller response statistics (`peerguard sellers stats`, the dashboards, the user lookup).

Kept apart from ``usecases.responses`` (the deadline sweep, its notices and webhooks) so that the
read-only command imports only this, the pure rules and a plain-SQL read: see ``storage.direct``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

from pipeline.responses import ResponsePolicy, SellerResponseStats, stats_from_summary, summarise
from storage.direct import Reader
from storage.response_stats import iter_seller_summaries, seller_records


class SellerStatsRow(NamedTuple):
    """One seller's identity and response statistics; ``seller_id`` stays inside, ``external_id`` (u-…) is shown.

    A named tuple: `sellers stats` builds one per seller (10,000 on the benchmark).
    """

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
    return list(iter_seller_rows(reader, policy, now, seller_email))


def iter_seller_rows(reader: Reader, policy: ResponsePolicy, now: datetime,
                     seller_email: str | None = None) -> Iterator[SellerStatsRow]:
    """``seller_rows`` one seller at a time, by seller id: on PostgreSQL as the database sends them.

    `sellers stats` prints each seller's line while the database still computes the next ones;
    consume it all before the reader's next statement.
    """
    if reader.dialect == "postgresql":
        for seller_id, external_id, email, name, summary in iter_seller_summaries(reader, now, policy, seller_email):
            yield SellerStatsRow(seller_id, external_id, email, name, stats_from_summary(summary))
        return
    sellers = seller_records(reader, now - policy.stats_window, now, seller_email)
    for s in sellers:
        yield SellerStatsRow(s.seller_id, s.external_id, s.email, s.name, stats_from_summary(summarise(s.records, now, policy)))
