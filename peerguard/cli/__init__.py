"""The ``peerguard`` command line: one click group, one module per command family."""

from __future__ import annotations

import os

import click


class PeerGuardGroup(click.Group):
    """A group that turns unexpected exceptions into one line (set PEERGUARD_DEBUG=1 for the traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence before the user
            if os.environ.get("PEERGUARD_DEBUG"):
                raise
            message = str(exc).strip().splitlines()
            raise click.ClickException(f"{exc.__class__.__name__}: {message[0] if message else ''}") from exc


@click.group(cls=PeerGuardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="peerguard")
def main() -> None:
    """PeerGuard: moderation and dispute support for PeerMetals direct messages.

    Configuration comes from the environment (DATABASE_URL, REDIS_URL, EMAIL_URL,
    PEERGUARD_DATA_DIR, PEERGUARD_PLATFORM_DOMAINS); see README.md.
    """


# Command modules register themselves on import; keep one line per family.
from peerguard.cli.db import db  # noqa: E402
from peerguard.cli.demo import demo  # noqa: E402
from peerguard.cli.importing import import_  # noqa: E402
from peerguard.cli.run import run  # noqa: E402
from peerguard.cli.worker import worker  # noqa: E402

main.add_command(db)
main.add_command(demo)
main.add_command(import_)
main.add_command(run)
main.add_command(worker)
from peerguard.cli.sellers import sellers  # noqa: E402

main.add_command(sellers)
from peerguard.cli.scheduler import scheduler  # noqa: E402

main.add_command(scheduler)
from peerguard.cli.scan import scan  # noqa: E402

main.add_command(scan)
from peerguard.cli.review import review, staff, stats, strikes  # noqa: E402

main.add_command(review)
main.add_command(staff)
main.add_command(stats)
main.add_command(strikes)
from peerguard.cli.transcript import transcript  # noqa: E402

main.add_command(transcript)
from peerguard.cli.outbox import outbox  # noqa: E402

main.add_command(outbox)
