"""Run every stage once, in-process, as of a given time (``peerguard run --once``).

The stages are the same functions the actors call; order matters: scanning feeds the review
queue, sweeps write the outbox, and mail delivery goes last so everything due gets sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from actors.context import AppContext

StageResult = dict[str, int]
Stage = Callable[[AppContext, datetime], StageResult]


def stages() -> list[tuple[str, Stage]]:
    """The pipeline's stages in the order ``run --once`` runs them."""
    found: list[tuple[str, Stage]] = []
    from actors.scanning import scan_pending  # issue 3: detection, findings → review queue

    found.append(("scan", scan_pending))
    from actors.review import review_housekeeping  # issue 6: restrictions whose strikes aged out

    found.append(("review", review_housekeeping))
    from actors.responses import sweep_responses  # issue 4: deadlines → due stages → outbox rows

    found.append(("responses", sweep_responses))
    from actors.transcripts import render_pending  # issue 5: requested transcripts not yet rendered

    found.append(("transcripts", render_pending))
    # Mail delivery stays last so every stage above that queues an email gets it sent this run.
    from actors.outbox import deliver_outbox

    found.append(("mail", deliver_outbox))
    return found


def run_once(context: AppContext, now: datetime, report: Callable[[str, StageResult, float], None] | None = None) -> dict[str, StageResult]:
    """Run each stage to completion as of ``now``; return each stage's counts."""
    results: dict[str, StageResult] = {}
    for name, stage in stages():
        started = time.perf_counter()
        results[name] = stage(context, now)
        if report is not None:
            report(name, results[name], time.perf_counter() - started)
    return results
