"""The ``peerguard`` command line: one click group, one module per command family.

The group is lazy: a command's module is imported only when that command runs, so a read-only
command such as ``peerguard review list`` pays for its own imports and not for the web app's,
the worker's or the detector's. ``--help`` lists every command from the summaries below without
importing any of them (tests/foundation/test_cli_lazy.py checks each summary against the
command's own docstring).
"""

from __future__ import annotations

import importlib

import click

from peerguard.cli.errors import one_line_error

# name -> (module, attribute, one-line summary shown by `peerguard --help`)
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "db": ("peerguard.cli.db", "db", "Create or migrate the database schema (Alembic; `alembic upgrade head` works too)."),
    "demo": ("peerguard.cli.demo", "demo", "Build a sample marketplace in the data directory and run the whole pipeline on it."),
    "health": ("peerguard.cli.health", "health",
               "Exit 0 when some ROLE process beat within --max-age seconds, else 1 (for healthchecks)."),
    "import": ("peerguard.cli.importing", "import_", "Import users, conversations and messages from FILE (JSON lines)."),
    "keys": ("peerguard.cli.keys", "keys",
             "Keys that sign dispute transcripts (PEERGUARD_SIGNING_KEY / PEERGUARD_SIGNING_CERT)."),
    "outbox": ("peerguard.cli.outbox", "outbox", "The email outbox shared by every notice."),
    "review": ("peerguard.cli.review", "review",
               "The trust-and-safety review queue: list, inspect, claim and decide flagged messages."),
    "run": ("peerguard.cli.run", "run",
            "Run every pipeline stage in-process: scanning, review housekeeping, reminders, transcripts, mail."),
    "scan": ("peerguard.cli.scan", "scan", "Scan messages for off-platform contact and payment attempts."),
    "scan-file": ("peerguard.cli.scan_file", "scan_file",
                  "Scan files for off-platform contact: OCR and QR/barcodes in images, PDF text (OCR of pages without "
                  "a text layer, first 5), text documents, EXIF GPS."),
    "scheduler": ("peerguard.cli.scheduler", "scheduler", "Ring every stage's sweep every --interval seconds."),
    "sellers": ("peerguard.cli.sellers", "sellers", "Seller response times and reminder preferences."),
    "staff": ("peerguard.cli.staff", "staff",
              "Staff members: who may review flagged messages and use the staff console (/staff), with which role."),
    "stats": ("peerguard.cli.review", "stats", "Statistics computed from staff decisions in the review queue."),
    "status": ("peerguard.cli.status", "status",
               "Backlogs and their ages (scanning, outbox, review queue, sweeps, webhooks) and process heartbeats."),
    "strikes": ("peerguard.cli.review", "strikes",
                "Strikes given to senders by confirmed review items; staff can overturn them."),
    "tokens": ("peerguard.cli.tokens", "tokens", "API tokens for the HTTP API (`Authorization: Bearer …`)."),
    "transcript": ("peerguard.cli.transcript", "transcript",
                   "Write the transcript of CONVERSATION_ID (marketplace id), or of --order's conversation, to a "
                   "verifiable PDF."),
    "users": ("peerguard.cli.users", "users", "Per-user preferences (users are named by the marketplace's ids, e.g. u-17)."),
    "verify": ("peerguard.cli.verify", "verify",
               "Check that PDF_FILE, a PeerGuard transcript, was not altered since it was generated."),
    "web": ("peerguard.cli.web", "web",
            "Serve the JSON API (/v1, OpenAPI at /v1/openapi.json), /healthz, /readyz, the unsubscribe pages and the "
            "staff console (/staff/)."),
    "webhooks": ("peerguard.cli.webhooks", "webhooks",
                 "Webhook endpoints that receive decision events (message.flagged, strike.issued, …)."),
    "worker": ("peerguard.cli.worker", "worker",
               "Start supervised Dramatiq workers for every PeerGuard actor (needs REDIS_URL)."),
}


class PeerGuardGroup(click.Group):
    """A lazy group that turns exceptions into one line and an exit status chosen by their class."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(LAZY_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in LAZY_COMMANDS:
            return None
        module, attribute, _summary = LAZY_COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The summaries above, so `peerguard --help` imports no command module.
        rows = [(name, summary) for name, (_m, _a, summary) in sorted(LAZY_COMMANDS.items())]
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, _shorten(summary, limit)) for name, summary in rows])

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence before the user
            raise one_line_error(exc) from exc


def _shorten(summary: str, limit: int) -> str:
    """Click's own short-help rule: cut at a word boundary with an ellipsis."""
    from click.utils import make_default_short_help

    return make_default_short_help(summary, max(limit, 45))


@click.group(cls=PeerGuardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="peerguard")
def main() -> None:
    """PeerGuard: moderation and dispute support for PeerMetals direct messages.

    Configuration comes from the environment (DATABASE_URL, REDIS_URL, EMAIL_URL,
    PEERGUARD_DATA_DIR, PEERGUARD_SECRET_KEY, …); see README.md. Ids on the command line are
    the marketplace's own (c-017, u-17, m-00078, order ids).
    """
    from peerguard.cli.errors import PeerGuardUsageError
    from usecases.environment import SettingsError, log_format  # not usecases.settings: every command reads this

    try:
        chosen = log_format()
    except SettingsError as exc:
        raise PeerGuardUsageError(f"configuration: {exc}", exit_code=2) from None
    if chosen == "json":
        # Warnings and errors of any command as JSON lines; worker, scheduler and web log INFO too.
        import logging

        from usecases.logs import configure_logging

        configure_logging("json", level=logging.WARNING)
