"""The worker process's ``App``: built from the environment on first use (never at import), replaceable in tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from usecases.app import App
from usecases.settings import Settings

MAIL_RING_GAP = 1.0  # seconds: rings closer than this are merged into one delayed ring
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


class BrokerDoorbell:
    """Rings the Dramatiq actors; called by use cases only after their transaction committed."""

    def __init__(self) -> None:
        self._mail_lock = threading.Lock()
        self._last_mail_ring = 0.0
        self._delayed_until = 0.0

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
        # Every commit that queues an email rings; a burst of them becomes one ring now and at
        # most one delayed ring a second later, which picks up everything queued meanwhile.
        from actors.outbox import dispatch_outbox

        now = time.monotonic()
        with self._mail_lock:
            if now - self._last_mail_ring >= MAIL_RING_GAP:
                self._last_mail_ring = now
                delay = None
            elif now >= self._delayed_until:
                self._delayed_until = now + MAIL_RING_GAP
                delay = int(MAIL_RING_GAP * 1000)
            else:
                return
        if delay is None:
            dispatch_outbox.send()
        else:
            dispatch_outbox.send_with_options(delay=delay)

    def deliver_webhooks(self) -> None:
        from actors.webhooks import deliver_webhooks

        deliver_webhooks.send()


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
