"""Leadership through a PostgreSQL session advisory lock (one scheduler fires; the others stand by)."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

# An arbitrary constant shared by every PeerGuard scheduler: whoever holds this PostgreSQL
# advisory lock is the one scheduler that fires; the others wait as hot standbys.
SCHEDULER_LOCK_KEY = 0x5E6_0A4D


class LeaderLock:
    """A session advisory lock held on a dedicated connection; SQLite has one process anyway."""

    def __init__(self, engine: Engine, key: int = SCHEDULER_LOCK_KEY) -> None:
        self.engine, self.key = engine, key
        self._connection: Connection | None = None

    @property
    def needed(self) -> bool:
        """Only PostgreSQL deployments run several schedulers."""
        return self.engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process now leads."""
        if not self.needed:
            return True
        connection = self._connection or self.engine.connect()
        try:
            taken = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
            # Commit either way so the connection is idle (not "idle in transaction"); the session lock survives.
            connection.commit()
        except Exception:
            connection.invalidate()
            self._connection = None
            raise
        if taken:
            self._connection = connection
        else:
            connection.close()
        return taken

    def still_held(self) -> bool:
        """False when the lock's connection is gone (and with it the lock)."""
        if self._connection is None:
            return not self.needed
        try:
            self._connection.execute(text("SELECT 1")).scalar()
            self._connection.commit()
        except Exception:  # noqa: BLE001 - any failure of the connection means the lock is lost
            return False
        return True

    def forget(self) -> None:
        """Drop a broken lock connection (its session, and so the lock, is gone already)."""
        if self._connection is not None:
            try:
                self._connection.invalidate()
            except Exception:  # noqa: BLE001 - it is broken; we only let go of it
                pass
        self._connection = None

    def release(self) -> None:
        """Let go of the lock; closing alone would return the connection, lock and all, to the pool."""
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._connection.commit()
            self._connection.close()
        except Exception:  # noqa: BLE001 - a dead connection has released its session locks already
            self._connection.invalidate()
        self._connection = None
