"""The worker process's ``App``: built from the environment on first use (never at import), replaceable in tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from usecases.app import App
from usecases.settings import Settings

RING_GAP = 1.0  # seconds: mail or webhook rings closer than this are merged into one delayed ring
SCAN_RINGS_KEY = "peerguard:scan-rings"  # sorted set: message id -> when its scan was rung
SCAN_RING_TRUST = 600.0  # seconds: a ring older than this is presumed lost (dead-lettered, say)


def _redis():
    """The broker's Redis client, or None on the in-process stub broker."""
    from actors.broker import broker

    return getattr(broker, "client", None)


def forget_scan_rings(message_ids: Sequence[int]) -> None:
    """A worker took these messages' ring: it no longer waits in the queue (a crash now is the sweep's)."""
    client = _redis()
    if client is not None and message_ids:
        client.zrem(SCAN_RINGS_KEY, *message_ids)


class _Coalescing:
    """When to ring an actor that drains everything due (the outbox, the webhook deliveries).

    A burst of rings becomes one ring now and at most one delayed ring ``gap`` later, which picks
    up everything committed meanwhile: a ring that finds a delayed one still to run is dropped,
    one after it has started schedules the next. (A scan batch that opens review items rings both;
    at 1,000 messages a second that was twenty webhook runs a second, each a claim query.)
    """

    def __init__(self, gap: float = RING_GAP) -> None:
        self.gap = gap
        self._lock = threading.Lock()
        self._last_ring = float("-inf")
        self._delayed_until = float("-inf")

    def delay(self, now: float) -> int | None:
        """0 to ring now, milliseconds to ring later, or None: a delayed ring will pick this up."""
        with self._lock:
            if now - self._last_ring >= self.gap:
                self._last_ring = now
                return 0
            if now >= self._delayed_until:
                self._delayed_until = now + self.gap
                return int(self.gap * 1000)
            return None


class BrokerDoorbell:
    """Rings the Dramatiq actors; called by use cases only after their transaction committed."""

    def __init__(self) -> None:
        self._mail = _Coalescing()
        self._webhooks = _Coalescing()

    def scan(self, message_ids: Sequence[int]) -> None:
        from actors.scanning import scan_messages

        client = _redis()
        if client is not None and message_ids:
            # Noted before sending, so a scan that finishes at once cannot leave a stale mark.
            client.zadd(SCAN_RINGS_KEY, dict.fromkeys(message_ids, time.time()))
        scan_messages.send(list(message_ids))

    def scans_waiting(self, message_ids: Sequence[int]) -> set[int]:
        """Messages rung less than SCAN_RING_TRUST ago whose scan has not run (a FLUSHDB forgets them all)."""
        client = _redis()
        if client is None or not message_ids:
            return set()
        ids = list(message_ids)
        cutoff = time.time() - SCAN_RING_TRUST
        waiting: set[int] = set()
        for start in range(0, len(ids), 10_000):
            chunk = ids[start : start + 10_000]
            scores = client.zmscore(SCAN_RINGS_KEY, chunk)
            waiting |= {i for i, score in zip(chunk, scores, strict=True) if score is not None and score > cutoff}
        return waiting

    def render_transcript(self, request_id: int) -> None:
        from actors.transcripts import render_transcript

        render_transcript.send(request_id)

    def deliver_mail(self) -> None:
        # Every commit that queues an email rings; a burst of them is merged (``_Coalescing``).
        from actors.outbox import dispatch_outbox

        _ring(dispatch_outbox, self._mail.delay(time.monotonic()))

    def deliver_webhooks(self) -> None:
        from actors.webhooks import deliver_webhooks

        _ring(deliver_webhooks, self._webhooks.delay(time.monotonic()))


def _ring(actor, delay: int | None) -> None:
    if delay == 0:
        actor.send()
    elif delay is not None:
        actor.send_with_options(delay=delay)


_current: App | None = None


def current_app() -> App:
    """The process's App, built from the environment the first time it is asked for."""
    global _current
    if _current is None:
        _current = App.from_settings(Settings.from_environment(), BrokerDoorbell())
    return _current


def set_current_app(app: App | None) -> None:
    """Install an App (the CLI after it validated settings, tests); None resets."""
    global _current
    _current = app
