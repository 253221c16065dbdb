"""The worker process's ``App``: built from the environment on first use (never at import), replaceable in tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from usecases.app import App
from usecases.settings import Settings

MAIL_RING_GAP = 1.0  # seconds: rings closer than this are merged into one delayed ring


class BrokerDoorbell:
    """Rings the Dramatiq actors; called by use cases only after their transaction committed."""

    def __init__(self) -> None:
        self._mail_lock = threading.Lock()
        self._last_mail_ring = 0.0
        self._delayed_until = 0.0

    def scan(self, message_ids: Sequence[int]) -> None:
        from actors.scanning import scan_messages

        scan_messages.send(list(message_ids))

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
