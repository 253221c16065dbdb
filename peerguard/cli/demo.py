"""``peerguard demo``: the whole pipeline on a generated marketplace, no server needed."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from peerguard.cli._common import open_app

DEMO_STAFF_EMAIL = "trust-and-safety@peermetals.com"


@click.command()
@click.option("--conversations", default=60, show_default=True, type=click.IntRange(1, 5000), help="How many conversations to generate.")
@click.option("--seed", default=7, show_default=True, help="Random seed for the generated marketplace.")
def demo(conversations: int, seed: int) -> None:
    """Build a sample marketplace in the data directory and run the whole pipeline on it.

    Generates users, conversations, messages with photo attachments (made with Pillow),
    contact-sharing attempts and slow sellers; imports them; runs every stage once; prints a
    summary and where every output is. Uses DATABASE_URL/PEERGUARD_DATA_DIR (default: SQLite
    under ./var). Running it again re-imports the same data idempotently.
    """
    from actors.stages import run_once
    from peerguard import demo as world
    from usecases.demo import DEMO_REVIEWER, staff_walkthrough
    from usecases.importing import ImportReport, InterchangeImporter
    from usecases.notices import deliver_outbox

    context = open_app()
    if context.settings.staff_email is None:
        # The demo shows staff alerts too; a real deployment names its own address.
        context.settings = context.settings.with_(staff_email=DEMO_STAFF_EMAIL)
        click.echo(f"PEERGUARD_STAFF_EMAIL is not set: staff alerts go to {DEMO_STAFF_EMAIL} for this demo")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    target = context.settings.data_dir / "demo"
    built = world.build(target, world.anchor_time(target, now), conversations=conversations, seed=seed)
    click.echo(f"generated {built.conversations} conversations, {built.messages} messages, {built.photos} photos, "
               f"{built.evasions} contact attempts, {built.slow_sellers} slow sellers -> {built.path}")
    report = ImportReport()
    for outcome in InterchangeImporter(context.session_factory, context.blobs, target).import_lines(built.path.open("rb")):
        report.add(outcome)
    click.echo("imported: " + ", ".join(f"{n} {s}" for s, n in sorted(report.counts.items())))
    results = run_once(context, now, report=lambda name, counts, s: click.echo(
        f"  {name:<12} " + (", ".join(f"{k}={v}" for k, v in counts.items()) or "nothing to do") + f"  ({s:.2f} s)"))
    decisions = staff_walkthrough(context, now)
    click.echo(f"staff walk-through as {DEMO_REVIEWER}: " + (", ".join(f"{k}={v}" for k, v in decisions.items()) or "nothing pending"))
    click.echo("  mail         " + ", ".join(f"{k}={v}" for k, v in deliver_outbox(context, now).items()))
    _print_outputs(context, results)


def _print_outputs(context, results) -> None:
    from storage import outbox, scanning
    from usecases import notifications

    settings = context.settings
    with context.session_factory() as session:
        kinds = scanning.findings_by_kind(session)
        flagged = scanning.most_flagged_conversation(session)
    click.echo("findings by kind: " + (", ".join(f"{k}={n}" for k, n in sorted(kinds.items())) or "none"))
    with context.session_factory() as session:
        notices = outbox.sent_by_notice(session)
    click.echo("emails sent: " + (", ".join(f"{k}={n}" for k, n in sorted(notices.items())) or "none"))
    total, unread = notifications.counts(context)
    click.echo(f"dashboard notifications: {total} (unread {unread}); "
               "`GET /v1/users/USER_ID/notifications` lists a user's")
    transcript = _transcript(context, flagged) if flagged else None
    click.echo("outputs:")
    click.echo(f"  database      {settings.database_url}")
    click.echo(f"  attachments   {settings.data_dir / 'blobs'}")
    click.echo(f"  email outbox  {settings.email_url}")
    if transcript is not None:
        click.echo(f"  transcript    {transcript}  (conversation {flagged}, the most flagged one)")
    click.echo("next: `peerguard review list`, `peerguard sellers stats`, "
               "`peerguard transcript CONVERSATION_ID -o FILE.pdf` (same environment)")


def _transcript(context, conversation_external_id: str):
    """Render the most flagged conversation's transcript, as a dispute handler would ask for it."""
    from datetime import datetime, timezone

    from usecases.transcripts import create_request, fulfil_request

    now = datetime.now(timezone.utc)
    request_id = create_request(context, conversation_external_id, "demo", now)
    outcome = fulfil_request(context, request_id, now)
    if outcome.status != "done":
        click.echo(f"  transcript of {conversation_external_id} failed: {outcome.error}", err=True)
        return None
    return f"{outcome.pdf_path} ({outcome.pages} pages, sha256 {outcome.pdf_sha256[:16]}…)"
