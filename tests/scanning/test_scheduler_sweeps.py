import dataclasses
from datetime import datetime, timezone

from dramatiq import Message

from peerguard.cli.scheduler import fire_sweeps


def test_scheduler_rings_every_sweep_on_the_broker(app, stub_broker):
    """With Redis configured the scheduler only enqueues; the catch-up sweep is among them."""
    settings = dataclasses.replace(app.settings, redis_url="redis://127.0.0.1:6379/13")
    context = dataclasses.replace(app, settings=settings)
    fire_sweeps(context, datetime(2026, 11, 26, tzinfo=timezone.utc))
    sent = sorted(
        Message.decode(raw).actor_name
        for queue in stub_broker.queues.values()
        for raw in list(queue.queue)
    )
    assert "catch_up_sweep" in sent and "transcript_sweep" in sent
    assert "response_sweep" in sent and "dispatch_outbox" in sent
