"""Attachment scanning: read each new attachment (OCR, QR codes, PDF text, EXIF GPS), run the
message detector over what it says, store findings with file, page and region, open review items.

Reading happens in a child process with a time limit and a memory cap (``storage.sandbox``): a
decompression bomb, a truncated image or a PDF of ten thousand pages is recorded as unreadable
with its reason and the worker goes on. One attachment is one transaction, so a finding never
exists without its review item nor its scan outcome.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.attachments import AttachmentLimits, RegionFinding, location_finding, scan_blocks
from pipeline.detection import DETECTOR_VERSION
from storage import attachment_scans as store
from storage.attachment_reader import Extraction, Unreadable, read_attachment, warm_up
from storage.blobs import BlobNotFound
from storage.db import transaction
from storage.sandbox import SandboxFailure, run_limited
from usecases.app import App
from usecases.review import open_items_for_findings

BATCH_SIZE = 20
LIMITS = AttachmentLimits()


@dataclass(frozen=True)
class FileScan:
    """What one file says: ``scanned`` with findings, or ``unreadable`` with a reason."""

    sha256: str
    status: str
    method: str
    reason: str | None = None
    pages: int = 0
    findings: tuple[RegionFinding, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {"sha256": self.sha256, "status": self.status, "method": self.method, "reason": self.reason,
                "pages": self.pages, "findings": [f.to_json() for f in self.findings], "notes": list(self.notes)}


def scan_file(data: bytes, platform_domains: Sequence[str], limits: AttachmentLimits = LIMITS, sandbox: bool = True) -> FileScan:
    """Read one file's bytes (in a limited child process unless ``sandbox`` is off) and detect contact in it."""
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        if sandbox:
            warm_up()
            extraction = run_limited(read_attachment, (data, limits), limits.seconds, limits.memory_bytes)
        else:
            extraction = read_attachment(data, limits)
    except (Unreadable, SandboxFailure) as exc:
        return FileScan(sha256, "unreadable", "none", reason=str(exc))
    return FileScan(sha256, "scanned", extraction.method, pages=extraction.pages,
                    findings=tuple(findings_of(extraction, platform_domains)), notes=tuple(extraction.notes))


def findings_of(extraction: Extraction, platform_domains: Sequence[str]) -> list[RegionFinding]:
    """Detector findings of the extracted text and codes, plus a ``location`` finding for EXIF GPS."""
    found = scan_blocks(extraction.blocks, platform_domains)
    location = location_finding(extraction.gps)
    if location is not None:
        found.append(RegionFinding(location.kind, location.value, location.match, location.score, 0, None, "exif",
                                   DETECTOR_VERSION))
    return found


def scan_pending(app: App, now: datetime, stop_after: float | None = None) -> dict[str, int]:
    """Read every attachment without an outcome (the ``run --once`` stage); returns counts.

    With ``stop_after`` (seconds), no new file is started once that much time has passed: the
    actor stays inside its time limit and the next ring goes on where this one stopped.
    """
    totals = {"attachments": 0, "unreadable": 0, "findings": 0, "review_items": 0}
    deadline = None if stop_after is None else time.monotonic() + stop_after
    while True:
        with app.session_factory() as session:
            ids = store.pending_ids(session, BATCH_SIZE)
        if not ids:
            return totals
        progressed = False
        for attachment_id in ids:
            if deadline is not None and time.monotonic() >= deadline:
                return totals
            counts = scan_attachment(app, attachment_id, now)
            progressed |= counts["attachments"] > 0
            for key, value in counts.items():
                totals[key] += value
        if not progressed:
            return totals


def scan_attachment(app: App, attachment_id: int, now: datetime) -> dict[str, int]:
    """Read one attachment and store its outcome, findings and review items in one transaction."""
    with transaction(app.session_factory) as session:
        pending = store.load_pending(session, [attachment_id])
        if not pending:
            return {"attachments": 0, "unreadable": 0, "findings": 0, "review_items": 0}
        attachment = pending[0]
        result = _scan_blob(app, attachment)
        records = [_record(f) for f in result.findings]
        new_ids = store.save_outcome(session, attachment, result.status, result.reason, result.method, result.pages,
                                     records, now)
        items = open_items_for_findings(session, new_ids, app.settings, now)
    if items:
        # Committed: staff alerts and webhook events go out now, not at the next sweep.
        app.doorbell.deliver_webhooks()
        app.doorbell.deliver_mail()
    return {"attachments": 1, "unreadable": int(result.status == "unreadable"), "findings": len(new_ids),
            "review_items": len(items)}


def _scan_blob(app: App, attachment: store.PendingAttachment) -> FileScan:
    try:
        data = app.blobs.read(attachment.blob_key)
    except (BlobNotFound, FileNotFoundError):
        return FileScan(attachment.sha256, "unreadable", "none", reason="the attachment's bytes are missing from the blob store")
    return scan_file(data, app.settings.platform_domains)


def _record(finding: RegionFinding) -> store.AttachmentFindingRecord:
    region = tuple(finding.box.to_json()) if finding.box else None
    return store.AttachmentFindingRecord(finding.kind, finding.value, finding.match, finding.score,
                                         finding.detector_version or DETECTOR_VERSION, finding.page, region)
