"""``peerguard transcript``: render a conversation's dispute transcript to a PDF file.

Exit status 2 for an unknown conversation or message id, 3 when the render failed (the
request is recorded as failed with the reason); the PDF is also kept in the data directory.
"""

from __future__ import annotations

import getpass
import shutil
from pathlib import Path

import click

from peerguard.cli._common import PeerGuardUsageError, open_app, parse_now


@click.command("transcript")
@click.argument("conversation_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the PDF.")
@click.option("--evidence", is_flag=True,
              help="Compact excerpt (≤ 20 pages, ≤ 5 MB): flagged or chosen messages and their neighbours.")
@click.option("--around", "around", multiple=True, metavar="MESSAGE_ID",
              help="A message (external id) the excerpt must show, with its neighbours (repeatable; implies --evidence).")
@click.option("--requested-by", default=None, help="Who asks (recorded with the request); default: the OS user.")
@click.option("--now", "now_text", default=None, help="Generation time (ISO-8601, default: the clock).")
def transcript(conversation_id: str, output: Path, evidence: bool, around: tuple[str, ...],
               requested_by: str | None, now_text: str | None) -> None:
    """Write the transcript of CONVERSATION_ID (external id) to a verifiable PDF."""
    from storage.transcripts import ConversationNotFound
    from usecases.transcripts import create_request, fulfil_request

    app = open_app()
    now = parse_now(now_text)
    try:
        request_id = create_request(app, conversation_id, requested_by or _os_user(), now,
                                    evidence or bool(around), around)
    except ConversationNotFound:
        raise PeerGuardUsageError(f"unknown conversation: {conversation_id}", exit_code=2) from None
    outcome = fulfil_request(app, request_id, now)
    if outcome.status != "done" or outcome.pdf_path is None:
        exit_code = 2 if (outcome.error or "").startswith("UnknownMessage") else 3
        raise PeerGuardUsageError(f"transcript failed: {outcome.error}", exit_code=exit_code)
    shutil.copyfile(outcome.pdf_path, output)
    click.echo(f"{output}: {outcome.pages} pages, {outcome.size_bytes} bytes, sha256 {outcome.pdf_sha256}, "
               f"chain head {outcome.chain_head} ({'reused' if outcome.reused else 'rendered'}, "
               f"request {outcome.request_id})")


def _os_user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
