"""The staff dashboards: detector precision (Wilson 95% intervals) per kind and version, the
queue's size and age, and sellers' response times, each as chart geometry plus its table.

Reads only: one short session, aggregates computed in SQL where the data is large (items,
signals), the charts laid out by ``pipeline.charts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.charts import BarChart, IntervalChart, bar_chart, duration_label, interval_chart
from pipeline.review import DetectorPrecision
from storage import console as store
from storage.console import PendingKind
from usecases.app import App
from usecases.responses import SellerStatsRow, seller_response_stats
from usecases.review import detector_stats

# The queue's age buckets: upper bounds of each bucket's age, the last one open-ended.
AGE_BUCKETS = (("under 1 h", timedelta(hours=1)), ("1–6 h", timedelta(hours=6)), ("6–24 h", timedelta(hours=24)),
               ("1–3 days", timedelta(days=3)), ("3–7 days", timedelta(days=7)))
OLDEST_BUCKET = "over 7 days"
SELLERS_SHOWN = 15


@dataclass(frozen=True)
class AgeBucket:
    label: str
    count: int


@dataclass(frozen=True)
class Dashboards:
    detectors: list[DetectorPrecision]
    precision_chart: IntervalChart
    pending: list[PendingKind]
    pending_total: int
    oldest_age_seconds: float | None
    kinds_chart: BarChart
    ages: list[AgeBucket]
    ages_chart: BarChart
    sellers: list[SellerStatsRow]
    seller_ids: dict[int, str]
    """Marketplace ids of the sellers shown (the rows carry PeerGuard's own)."""
    sellers_chart: BarChart


def age_buckets(opened_after: list[int], total: int) -> list[AgeBucket]:
    """Buckets from cumulative counts: ``opened_after[i]`` items are younger than ``AGE_BUCKETS[i]``'s bound."""
    bounds = [*opened_after, total]
    labels = [label for label, _ in AGE_BUCKETS] + [OLDEST_BUCKET]
    return [AgeBucket(label, bounds[i] - (bounds[i - 1] if i else 0)) for i, label in enumerate(labels)]


def _precision_label(row: DetectorPrecision) -> str:
    if row.precision is None or row.interval is None:
        return "no decisions"
    low, high = row.interval
    return f"{row.precision:.0%} ({low * 100:.0f}–{high:.0%})"


def _slowest_sellers(rows: list[SellerStatsRow]) -> list[SellerStatsRow]:
    timed = [row for row in rows if row.stats.median_response_seconds is not None]
    return sorted(timed, key=lambda row: (-row.stats.median_response_seconds, row.seller_id))[:SELLERS_SHOWN]


def dashboards(app: App, now: datetime) -> Dashboards:
    """Everything the dashboards page shows, as of ``now``."""
    sellers = _slowest_sellers(seller_response_stats(app, now))
    with app.session_factory() as session:
        detectors = detector_stats(session)
        pending = store.pending_by_kind(session)
        opened_after = store.pending_opened_after(session, [now - bound for _, bound in AGE_BUCKETS])
        seller_ids = store.external_ids(session, [s.seller_id for s in sellers])
    total = sum(kind.count for kind in pending)
    ages = age_buckets(opened_after, total)
    oldest = min((kind.oldest for kind in pending), default=None)
    return Dashboards(
        detectors,
        interval_chart([(f"{d.kind} {d.detector_version}", d.precision, d.interval, _precision_label(d)) for d in detectors]),
        pending, total, (now - oldest).total_seconds() if oldest else None,
        bar_chart([(k.kind, k.count, f"{k.count:,}") for k in pending]),
        ages, bar_chart([(a.label, a.count, f"{a.count:,}") for a in ages]),
        sellers, seller_ids,
        bar_chart([(seller_ids[s.seller_id], s.stats.median_response_seconds / 3600,
                    duration_label(s.stats.median_response_seconds)) for s in sellers], unit=" h"),
    )
