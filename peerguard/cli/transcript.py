"""``peerguard transcript``: render a conversation's dispute transcript to a PDF file.

The conversation is named by its marketplace id or, with ``--order``, by the marketplace order
it is about. Exit status 2 for bad usage or an unknown conversation, order or message id, 3 when
the render failed (the request is recorded as failed with the reason); the PDF is also kept in
the data directory. Output names only marketplace ids, plus PeerGuard's own request number.
"""

from __future__ import annotations

import getpass
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import click

from peerguard.cli._common import PeerGuardUsageError, open_app, parse_now

if TYPE_CHECKING:
    from usecases.app import App


@click.command("transcript")
@click.argument("conversation_id", required=False)
@click.option("--order", "order_ref", metavar="ORDER_ID", default=None,
              help="Find the conversation by the marketplace's order id instead of CONVERSATION_ID.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the PDF.")
@click.option("--evidence", is_flag=True,
              help="Compact excerpt (≤ 20 pages, ≤ 5 MB): flagged or chosen messages and their neighbours.")
@click.option("--around", "around", multiple=True, metavar="MESSAGE_ID",
              help="A message (external id) the excerpt must show, with its neighbours (repeatable; implies --evidence).")
@click.option("--requested-by", default=None, help="Who asks (recorded with the request); default: the OS user.")
@click.option("--now", "now_text", default=None, help="Generation time (ISO-8601, default: the clock).")
def transcript(conversation_id: str | None, order_ref: str | None, output: Path, evidence: bool,
               around: tuple[str, ...], requested_by: str | None, now_text: str | None) -> None:
    """Write the transcript of CONVERSATION_ID (marketplace id), or of --order's conversation, to a verifiable PDF."""
    from storage.transcripts import ConversationNotFound
    from usecases.transcripts import create_request, fulfil_request

    if (conversation_id is None) == (order_ref is None):
        raise click.UsageError("give exactly one of CONVERSATION_ID or --order ORDER_ID")
    app = open_app()
    now = parse_now(now_text)
    conversation_id = conversation_id or _conversation_for_order(app, order_ref)
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
    click.echo(f"{output}: conversation {conversation_id}, {outcome.pages} pages, {outcome.size_bytes} bytes, "
               f"sha256 {outcome.pdf_sha256}, chain head {outcome.chain_head} "
               f"({'reused' if outcome.reused else 'rendered'}, request {outcome.request_id})")


def _conversation_for_order(app: App, order_ref: str) -> str:
    from storage.transcripts import AmbiguousOrder, OrderNotFound
    from usecases.transcripts import conversation_for_order

    try:
        return conversation_for_order(app, order_ref)
    except OrderNotFound:
        raise PeerGuardUsageError(f"unknown order: {order_ref}", exit_code=2) from None
    except AmbiguousOrder as exc:
        # Which thread is the dispute is a person's call, so list them rather than guess.
        raise PeerGuardUsageError(f"order {order_ref} has several conversations ({', '.join(exc.args[1])}): "
                                  "name one as CONVERSATION_ID", exit_code=2) from None


def _os_user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
