"""The one table of pipeline stages, read by ``run --once``, the scheduler and the worker's actor list.

Each stage names the use case that does its work as of a given time (what ``peerguard run --once``
calls in-process) and the sweep actor the scheduler rings every tick on Redis (which re-rings
whatever the broker lost, so nothing depends on redelivery). Order matters for ``run --once``:
scanning feeds the review queue, the sweeps write the outbox and the webhook events, and delivery
goes last so everything queued in the same run is sent. A new stage is one line here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import dramatiq

from actors import attachment_scanning, notifications, outbox, responses, review, scanning, transcripts, webhooks
from actors.metrics import count_stage
from usecases import attachment_scanning as attachment_cases
from usecases import notices
from usecases import notifications as notification_cases
from usecases import responses as response_cases
from usecases import review as review_cases
from usecases import scanning as scanning_cases
from usecases import transcripts as transcript_cases
from usecases import webhooks as webhook_cases
from usecases.app import App

StageResult = dict[str, int]


@dataclass(frozen=True)
class Stage:
    """One stage: its name, its in-process run as of ``now``, and the actor the scheduler rings."""

    name: str
    run: Callable[[App, datetime], StageResult]
    sweep: dramatiq.Actor


STAGES: tuple[Stage, ...] = (
    Stage("scan", scanning_cases.scan_pending, scanning.catch_up_sweep),
    Stage("attachment_scan", attachment_cases.scan_pending, attachment_scanning.scan_attachments),
    Stage("review", review_cases.housekeeping, review.review_sweep),
    Stage("responses", response_cases.sweep, responses.response_sweep),
    Stage("transcripts", transcript_cases.render_pending, transcripts.transcript_sweep),
    Stage("webhooks", webhook_cases.deliver_due, webhooks.deliver_webhooks),
    Stage("notifications", notification_cases.sweep, notifications.notification_sweep),
    Stage("mail", notices.deliver_outbox, outbox.dispatch_outbox),
)

ACTOR_MODULES = (scanning, attachment_scanning, review, responses, transcripts, webhooks, notifications, outbox)
"""Every module that declares actors (``dramatiq actors.all`` imports them through this table)."""


def run_once(app: App, now: datetime, report: Callable[[str, StageResult, float], None] | None = None) -> dict[str, StageResult]:
    """Run each stage to completion as of ``now``; return each stage's counts."""
    results: dict[str, StageResult] = {}
    for stage in STAGES:
        started = time.perf_counter()
        results[stage.name] = stage.run(app, now)
        count_stage(stage.name, results[stage.name])
        if report is not None:
            report(stage.name, results[stage.name], time.perf_counter() - started)
    return results


def ring_sweeps() -> None:
    """Ring every stage's sweep actor once (the scheduler's tick on Redis)."""
    for stage in STAGES:
        stage.sweep.send()
