"""Backlog gauges read from the database at scrape time, served by the ``peerguard worker`` metrics port.

They are computed in the one process that serves /metrics rather than kept by each worker, so
there is nothing to merge across processes and a dead worker leaves no stale gauge behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from actors.app import current_app
from usecases.status import gauges

log = logging.getLogger(__name__)


class BacklogCollector(Collector):
    """Collects ``usecases.status.gauges`` on every scrape; an unreachable database yields ``peerguard_up 0``."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("peerguard_database_up", "Whether the backlog gauges could be read")
        try:
            figures = gauges(current_app(), datetime.now(UTC))
        except Exception as exc:  # noqa: BLE001 - a scrape during an outage reports it instead of failing
            log.warning("backlog gauges unavailable: %s", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        families: dict[str, GaugeMetricFamily] = {}
        for figure in figures:
            family = families.get(figure.name)
            if family is None:
                family = families[figure.name] = GaugeMetricFamily(figure.name, figure.help, labels=list(figure.labels))
            family.add_metric(list(figure.labels.values()), figure.value)
        yield from families.values()
