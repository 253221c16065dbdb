"""Mail actors: deliver the outbox, and the dedicated mail processes of ``peerguard worker --mail-processes``."""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import UTC, datetime

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.app import current_app
from actors.metrics import count_stage
from usecases import notices

log = logging.getLogger(__name__)

MAIL_POLL_SECONDS = 2.0  # how often an idle mail process looks at the outbox


@dramatiq.actor(queue_name="mail", max_retries=0, time_limit=10 * 60 * 1000)
def dispatch_outbox() -> None:
    """Deliver everything due in the outbox (idempotent; safe to run from several workers)."""
    count_stage("mail", notices.deliver_outbox(current_app(), datetime.now(UTC)))


def mail_process() -> None:
    """A process that only delivers mail: ``peerguard worker --mail-processes N`` forks N of them.

    Dramatiq's consumers prefetch, so a second ``dispatch_outbox`` message may well run in the
    same process as the first; dedicated processes are how a backlog gets more than one core.
    Each polls the outbox (SKIP LOCKED keeps them on disjoint rows) and, on SIGTERM or SIGHUP,
    finishes the email in hand, gives back the rest of its claim and exits.
    """
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    app = current_app()
    log.info("mail process %s polling the outbox every %.1f s", os.getpid(), MAIL_POLL_SECONDS)
    while not stop.is_set():
        try:
            counts = notices.deliver_outbox(app, datetime.now(UTC), stopping=stop.is_set)
        except Exception:  # noqa: BLE001 - a broken database or transport must not end the process
            log.exception("mail process: delivery failed; retrying in %.0f s", MAIL_POLL_SECONDS * 5)
            stop.wait(MAIL_POLL_SECONDS * 5)
            continue
        count_stage("mail", counts)
        if not counts.get("sent"):
            stop.wait(MAIL_POLL_SECONDS)
