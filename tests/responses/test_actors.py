"""The actors on the in-process StubBroker: the sweep rings the dispatcher, which delivers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.db import transaction
from tests.responses.factories import conversation, message, user


def test_response_sweep_actor_queues_and_dispatch_actor_delivers(app, stub_broker, stub_worker):
    from actors.outbox import dispatch_outbox  # noqa: F401  (registers the actor)
    from actors.responses import response_sweep

    with transaction(app.session_factory) as s:
        buyer, seller = user(s, "B", "b@example.com"), user(s, "Sam", "sam@example.com")
        message(s, conversation(s, buyer, seller), buyer, datetime.now(UTC) - timedelta(hours=25))
    response_sweep.send()
    stub_broker.join(response_sweep.queue_name)
    stub_broker.join("mail")
    stub_worker.join()
    outbox = app.settings.email_url.removeprefix("file://")
    from pathlib import Path

    files = list(Path(outbox).glob("*.eml"))
    assert len(files) == 1 and b"X-PeerGuard-Notice: response-breach" in files[0].read_bytes()
