"""The worker process's ``App``: built from the environment on first use (never at import), replaceable in tests."""

from __future__ import annotations

from collections.abc import Sequence

from usecases.app import App
from usecases.settings import Settings


class BrokerDoorbell:
    """Rings the Dramatiq actors; called by use cases only after their transaction committed."""

    def scan(self, message_ids: Sequence[int]) -> None:
        from actors.scanning import scan_messages

        scan_messages.send(list(message_ids))

    def render_transcript(self, request_id: int) -> None:
        from actors.transcripts import render_transcript

        render_transcript.send(request_id)

    def deliver_mail(self) -> None:
        from actors.outbox import dispatch_outbox

        dispatch_outbox.send()

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
