"""Transcript actors: render one request on the ``transcripts`` queue, and re-ring lost requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.app import current_app
from usecases import transcripts

# The actor's own limit leaves the render time to stop its workers and record the failure.
ACTOR_TIME_LIMIT_MS = int((transcripts.RENDER_TIME_LIMIT + timedelta(minutes=2)).total_seconds() * 1000)


@dramatiq.actor(queue_name="transcripts", max_retries=2, time_limit=ACTOR_TIME_LIMIT_MS)
def render_transcript(request_id: int) -> None:
    """Render (or reuse) the transcript for one request; safe to run twice."""
    transcripts.fulfil_request(current_app(), request_id, datetime.now(UTC))


@dramatiq.actor(queue_name="sweeps", max_retries=0)
def transcript_sweep() -> None:
    """Re-ring the doorbell for transcript requests whose render message the broker lost."""
    transcripts.ring_for_unfinished(current_app(), datetime.now(UTC))
