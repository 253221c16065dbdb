"""The ``peerguard`` command line: one click group, one module per command family."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="peerguard")
def main() -> None:
    """PeerGuard: moderation and dispute support for PeerMetals direct messages.

    Configuration comes from the environment (DATABASE_URL, REDIS_URL, EMAIL_URL,
    PEERGUARD_DATA_DIR, PEERGUARD_PLATFORM_DOMAINS); see README.md.
    """


# Command modules register themselves on import; keep one line per family.
