"""The ``peerguard`` command line: one click group, one module per command family."""

from __future__ import annotations

import click

from peerguard.cli.db import db
from peerguard.cli.demo import demo
from peerguard.cli.errors import one_line_error
from peerguard.cli.health import health
from peerguard.cli.importing import import_
from peerguard.cli.keys import keys
from peerguard.cli.outbox import outbox
from peerguard.cli.review import review, stats, strikes
from peerguard.cli.run import run
from peerguard.cli.scan import scan
from peerguard.cli.scan_file import scan_file
from peerguard.cli.scheduler import scheduler
from peerguard.cli.sellers import sellers
from peerguard.cli.staff import staff
from peerguard.cli.status import status
from peerguard.cli.tokens import tokens
from peerguard.cli.transcript import transcript
from peerguard.cli.users import users
from peerguard.cli.verify import verify
from peerguard.cli.web import web
from peerguard.cli.webhooks import webhooks
from peerguard.cli.worker import worker

COMMANDS = (db, demo, health, import_, keys, outbox, review, run, scan, scan_file, scheduler, sellers, staff, stats, status, strikes, tokens, transcript, users, verify, web, webhooks, worker)


class PeerGuardGroup(click.Group):
    """A group that turns exceptions into one line and an exit status chosen by their class."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence before the user
            raise one_line_error(exc) from exc


@click.group(cls=PeerGuardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="peerguard")
def main() -> None:
    """PeerGuard: moderation and dispute support for PeerMetals direct messages.

    Configuration comes from the environment (DATABASE_URL, REDIS_URL, EMAIL_URL,
    PEERGUARD_DATA_DIR, PEERGUARD_SECRET_KEY, …); see README.md. Ids on the command line are
    the marketplace's own (c-017, u-17, m-00078, order ids).
    """


for command in COMMANDS:
    main.add_command(command)
