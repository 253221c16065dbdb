"""The collaborators every use case receives: settings, database, blob store, mail, doorbell.

Entry points build one ``App`` per process (the CLI after validating settings, the web app at
start-up, each Dramatiq worker process on first use) and pass it to the use cases; tests build
their own with a fake doorbell or an in-memory mail transport. Nothing here connects at import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from storage.blobs import FileBlobStore
from storage.db import Engine, Session, make_engine, make_session_factory, sessionmaker
from storage.mail import MailTransport, transport_from_url
from storage.outbox import ring_mail_after_commit
from usecases.settings import Settings


class Doorbell(Protocol):
    """Tells the workers that committed work is waiting. Ring only after the commit.

    The database is the source of truth and every sweep re-rings what a lost message missed, so
    a doorbell may drop a ring without losing work; it must never ring before the commit.
    """

    def scan(self, message_ids: Sequence[int]) -> None: ...

    def scans_waiting(self, message_ids: Sequence[int]) -> set[int]:
        """Which of these messages have a scan ring still waiting in the queue (optional)."""
        ...

    def render_transcript(self, request_id: int) -> None: ...

    def deliver_mail(self) -> None: ...

    def deliver_webhooks(self) -> None: ...


class SilentDoorbell:
    """A doorbell that rings nobody: ``peerguard run --once`` and tests find the work by sweeping."""

    def scan(self, message_ids: Sequence[int]) -> None:
        return None

    def scans_waiting(self, message_ids: Sequence[int]) -> set[int]:
        return set()

    def render_transcript(self, request_id: int) -> None:
        return None

    def deliver_mail(self) -> None:
        return None

    def deliver_webhooks(self) -> None:
        return None


@dataclass
class App:
    """What a use case needs to load, decide, save and hand on."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    blobs: FileBlobStore
    doorbell: Doorbell = field(default_factory=SilentDoorbell)
    mail_transport_factory: Callable[[], MailTransport] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, doorbell: Doorbell | None = None) -> App:
        """Open (lazily) the database and blob store named by ``settings``."""
        engine = make_engine(settings.database_url)
        doorbell = doorbell or SilentDoorbell()
        session_factory = make_session_factory(engine)
        # Emails leave within seconds of the commit that queued them, not at the next sweep.
        ring_mail_after_commit(session_factory, doorbell.deliver_mail)
        return cls(settings, engine, session_factory, FileBlobStore(settings.data_dir / "blobs"), doorbell)

    def mail_transport(self) -> MailTransport:
        """The transport EMAIL_URL names (or the one a test installed)."""
        if self.mail_transport_factory is not None:
            return self.mail_transport_factory()
        return transport_from_url(self.settings.email_url)

    def dispose(self) -> None:
        self.engine.dispose()
