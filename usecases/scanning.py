"""Scanning: detect off-platform contact in new messages, store findings and open review items.

One batch is one transaction: masked bodies, findings and the review items they open are
committed together, so a finding never exists without its review item nor the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pipeline.detection import mask_text, scan_text
from pipeline.detection.conversation import context_findings
from storage import scanning as store
from storage.db import transaction
from usecases.app import App
from usecases.review import open_items_for_findings

BATCH_SIZE = 200
WINDOW = 6
"""Messages looked at together for attempts split across consecutive messages."""
CATCH_UP_AGE = timedelta(seconds=10)
"""A message unscanned this long after it was recorded is presumed lost by the broker."""


def ring_for_lost(app: App, now: datetime) -> int:
    """Ring the doorbell again for every message still unscanned ``CATCH_UP_AGE`` after it was recorded."""
    with app.session_factory() as session:
        ids = store.unscanned_ids(session, limit=100_000, recorded_before=now - CATCH_UP_AGE)
    ring_for(app, ids)
    return len(ids)


def ring_for(app: App, message_ids: Sequence[int]) -> None:
    """Ring the doorbell for committed messages, one ring per batch."""
    ids = list(message_ids)
    for start in range(0, len(ids), BATCH_SIZE):
        app.doorbell.scan(ids[start : start + BATCH_SIZE])


def scan_batch(app: App, message_ids: Sequence[int], now: datetime) -> dict[str, int]:
    """Load → detect → store for one batch, in one transaction; returns counts."""
    domains = app.settings.platform_domains
    with transaction(app.session_factory) as session:
        batch = store.load_messages(session, message_ids)
        masked: dict[int, str] = {}
        records: list[store.FindingRecord] = []
        for message in batch:
            single = scan_text(message.body, platform_domains=domains)
            masked[message.id] = mask_text(message.body, single)
            records += [_record("message", message.conversation_id, f, [message.id]) for f in single]
        new_ids = {m.id for m in batch}
        for conversation_id, messages in store.conversation_context(session, batch).items():
            records += _split_attempts(conversation_id, messages, new_ids, domains)
        new_findings = store.save_scans(session, masked, records, now)
        # Same transaction: a finding is never stored without its review item, nor the reverse.
        review_items = open_items_for_findings(session, new_findings, app.settings, now)
    return {"messages": len(batch), "findings": len(new_findings), "review_items": len(review_items)}


def _split_attempts(
    conversation_id: int, messages: list[store.ScannableMessage], new_ids: set[int], domains
) -> list[store.FindingRecord]:
    """What the conversation reveals beyond each new message alone (split attempts, context)."""
    new_indexes = [i for i, m in enumerate(messages) if m.id in new_ids]
    findings = context_findings(
        [(m.role, m.body) for m in messages], new_indexes, platform_domains=domains, window=WINDOW
    )
    return [_record("conversation", conversation_id, f, [m.id for m in messages]) for f in findings]


def _record(scope: str, conversation_id: int, finding, message_ids: list[int]) -> store.FindingRecord:
    spans = tuple(
        (message_ids[span.message if span.message is not None else 0], span.start, span.end) for span in finding.spans
    )
    return store.FindingRecord(
        conversation_id, scope, finding.kind, finding.value, finding.match, finding.score, finding.detector_version, spans
    )


def scan_pending(app: App, now: datetime) -> dict[str, int]:
    """Scan every unscanned message, batch after batch (the `run --once` stage)."""
    totals = {"messages": 0, "findings": 0, "review_items": 0}
    while True:
        with app.session_factory() as session:
            ids = store.unscanned_ids(session, limit=BATCH_SIZE)
        if not ids:
            return totals
        counts = scan_batch(app, ids, now)
        if counts["messages"] == 0:
            return totals
        for key, value in counts.items():
            totals[key] += value
