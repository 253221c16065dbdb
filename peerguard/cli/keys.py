"""``peerguard keys``: signing keys for transcripts (a self-signed pair for development)."""

from __future__ import annotations

from pathlib import Path

import click

from peerguard.cli._common import PeerGuardUsageError, parse_now


@click.group("keys")
def keys() -> None:
    """Keys that sign dispute transcripts (PEERGUARD_SIGNING_KEY / PEERGUARD_SIGNING_CERT)."""


@keys.command("create-self-signed")
@click.option("--out", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Directory for transcript-signing-key.pem and transcript-signing-cert.pem.")
@click.option("--name", "common_name", default="PeerGuard transcripts (development)", show_default=True,
              help="The certificate's common name, shown by PDF readers as the signer.")
def create_self_signed(directory: Path, common_name: str) -> None:
    """Create a self-signed key and certificate for signing transcripts in development (not trusted by anyone)."""
    from usecases.transcript_signing import write_development_keys

    try:
        key_path, cert_path = write_development_keys(directory, common_name, parse_now(None))
    except FileExistsError as exc:
        raise PeerGuardUsageError(str(exc), exit_code=2) from None
    click.echo(f"export PEERGUARD_SIGNING_KEY={key_path.resolve()}")
    click.echo(f"export PEERGUARD_SIGNING_CERT={cert_path.resolve()}")
