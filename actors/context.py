"""The process-wide application context actors use: settings, database, blob store.

Built lazily from the environment on first use (never at import), and replaceable in tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pipeline.settings import Settings
from storage.blobs import FileBlobStore
from storage.db import make_engine, make_session_factory


@dataclass
class AppContext:
    """What a stage needs to load, decide and save."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    blobs: FileBlobStore

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        engine = make_engine(settings.database_url)
        return cls(settings, engine, make_session_factory(engine), FileBlobStore(settings.data_dir / "blobs"))

    def dispose(self) -> None:
        self.engine.dispose()


_current: AppContext | None = None


def app_context() -> AppContext:
    """The current context, built from the environment the first time it is asked for."""
    global _current
    if _current is None:
        _current = AppContext.from_settings(Settings.from_mapping(os.environ))
    return _current


def set_app_context(context: AppContext | None) -> None:
    """Install a context (tests, the CLI after it validated settings); None resets."""
    global _current
    _current = context
