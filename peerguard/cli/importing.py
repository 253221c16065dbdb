"""``peerguard import``: load an interchange file (JSON lines) idempotently."""

from __future__ import annotations

from pathlib import Path

import click

from peerguard.cli._common import PeerGuardUsageError, echo_err, open_app, stderr_is_tty


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="Print only errors and the summary.")
def import_(file: Path, quiet: bool) -> None:
    """Import users, conversations and messages from FILE (JSON lines).

    One JSON object per line, each of type user, conversation or message (see README).
    References must be defined earlier in the file or already stored. Attachment paths are
    relative to FILE's folder and may not leave it. Importing the same file twice changes
    nothing. Each bad line is reported with its line number and reason; good lines are kept;
    the exit status is 1 if any line failed.
    """
    from usecases import scanning
    from usecases.importing import ImportReport, InterchangeImporter

    app = open_app()
    importer = InterchangeImporter(app.session_factory, app.blobs, file.parent)
    report = ImportReport()
    with file.open("rb") as stream, _progress(file, quiet) as bar:
        for outcome in importer.import_lines(_tracked(stream, bar), on_commit=lambda ids: scanning.ring_for(app, ids)):
            report.add(outcome)
            if outcome.status == "error":
                echo_err(f"{file.name}:{outcome.line_no}: {outcome.error}")
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts.items())) or "nothing to import"
    click.echo(f"imported {file.name}: {counts}")
    if report.errors:
        raise PeerGuardUsageError(f"{len(report.errors)} line(s) failed; the other lines were imported")


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def _progress(file: Path, quiet: bool):
    if quiet or not stderr_is_tty():
        return _NoProgress()
    return click.progressbar(length=file.stat().st_size, label=f"importing {file.name}", file=click.get_text_stream("stderr"))


def _tracked(stream, bar):
    for line in stream:
        bar.update(len(line))
        yield line
