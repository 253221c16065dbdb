"""Rings of the actors that drain everything due (mail, webhooks) are merged: one now, at most one delayed."""

from __future__ import annotations

from actors.app import BrokerDoorbell, _Coalescing


def test_a_burst_is_one_ring_now_and_one_delayed_ring() -> None:
    rings = _Coalescing(gap=1.0)
    assert rings.delay(10.0) == 0  # the first rings at once
    assert rings.delay(10.3) == 1000  # the next within the gap: a delayed ring picks it up
    assert rings.delay(10.5) is None  # that delayed ring (due at 11.3) is still to run
    assert rings.delay(11.2) == 0  # the gap since the last ring now has passed
    assert rings.delay(11.25) is None  # the delayed ring has not started yet
    assert rings.delay(11.31) == 1000  # it may have started (and missed this commit): ring again later


def test_the_doorbell_sends_one_message_and_one_delayed_for_a_burst(stub_broker) -> None:
    doorbell = BrokerDoorbell()
    for _ in range(20):
        doorbell.deliver_webhooks()
        doorbell.deliver_mail()
    for queue in ("webhooks", "mail"):
        assert stub_broker.queues[queue].qsize() == 1, queue
        assert stub_broker.queues[f"{queue}.DQ"].qsize() == 1, queue
    # Mail and webhooks are merged apart: a mail ring does not stand for a webhook ring.
    other = BrokerDoorbell()
    other.deliver_mail()
    other.deliver_webhooks()
    assert stub_broker.queues["webhooks"].qsize() == 2
