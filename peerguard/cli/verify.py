"""``peerguard verify FILE.pdf``: recompute a transcript's hash chain from the PDF and say what differs.

Exit status 0 when the PDF agrees with its embedded record, its printed chain head, its pages,
its signature (when signed: intact and covering the whole file) and (unless ``--no-database``)
the stored conversation; 1 when anything differs or the record is missing; 2 for a file that
cannot be read.
"""

from __future__ import annotations

from pathlib import Path

import click

from peerguard.cli._common import PeerGuardUsageError, open_app


@click.command("verify")
@click.argument("pdf_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--database/--no-database", default=True,
              help="Also compare with the conversation stored in PeerGuard's database (default: yes).")
def verify(pdf_file: Path, database: bool) -> None:
    """Check that PDF_FILE, a PeerGuard transcript, was not altered since it was generated."""
    from pipeline.transcript.record import NotATranscript
    from usecases.transcript_verification import verify_transcript

    try:
        data = pdf_file.read_bytes()
    except OSError as exc:
        raise PeerGuardUsageError(f"cannot read {pdf_file}: {exc.strerror or exc}", exit_code=2) from None
    try:
        report = verify_transcript(data, open_app() if database else None)
    except NotATranscript as exc:
        click.echo(f"{pdf_file}: NOT VERIFIED: {exc}")
        raise SystemExit(1) from None
    for note in report.notes:
        click.echo(f"note: {note}")
    if report.ok:
        click.echo(f"{pdf_file}: verified: conversation {report.conversation}, {report.message_count} messages, "
                   f"{report.pages} pages, chain head {report.head}")
        return
    click.echo(f"{pdf_file}: ALTERED: conversation {report.conversation}")
    for difference in report.differences:
        click.echo(f"  - {difference}")
    raise SystemExit(1)
