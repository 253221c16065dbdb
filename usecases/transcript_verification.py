"""Verify a transcript PDF: from the PDF alone, then against the stored conversation when there is one."""

from __future__ import annotations

from dataclasses import replace

from pipeline.transcript.record import VerificationReport, check_transcript, compare_with_stored
from storage import transcripts as store
from usecases.app import App
from usecases.transcript_signing import check_signatures


def verify_transcript(data: bytes, app: App | None) -> VerificationReport:
    """Check ``data`` against its embedded record and printed head, and against ``app``'s database if given.

    Raises NotATranscript for a file that is not a PDF or carries no record.
    """
    report, record = check_transcript(data)
    report = _with_signatures(report, data)
    if app is None:
        return replace(report, notes=(*report.notes, "not compared with a database"))
    with app.session_factory() as session:
        try:
            conversation_id = store.find_conversation_id(session, record.conversation)
        except store.ConversationNotFound:
            return replace(report, notes=(*report.notes, f"conversation {record.conversation} is not in this "
                                          "database: checked against the PDF alone"))
        stored = store.load_transcript_conversation(session, conversation_id)
    differences = compare_with_stored(record, stored)
    return replace(report, differences=(*report.differences, *differences),
                   notes=(*report.notes, f"compared with the stored conversation {record.conversation}"))


def _with_signatures(report: VerificationReport, data: bytes) -> VerificationReport:
    """Add what the embedded signatures say: a broken one is a difference, an intact one a note."""
    notes, differences = list(report.notes), list(report.differences)
    try:
        checks = check_signatures(data)
    except Exception as exc:  # noqa: BLE001 - a signature pyHanko cannot parse is a finding, not a crash
        return replace(report, differences=(*differences, f"the signatures cannot be read: {type(exc).__name__}: {exc}"),
                       notes=tuple(notes))
    if not checks:
        notes.append("not signed")
    for check in checks:
        if not check.intact:
            differences.append(f"the signature by {check.signer} does not match the signed bytes")
        elif not check.covers_whole_file:
            differences.append(f"the file was changed after {check.signer} signed it")
        else:
            notes.append(f"signed by {check.signer}: signature intact (trust in the certificate is for the reader to decide)")
    return replace(report, notes=tuple(notes), differences=tuple(differences))
