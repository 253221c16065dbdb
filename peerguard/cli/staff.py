"""``peerguard staff add|list|remove|set-role|password``: staff members and their console roles.

Roles: ``moderator`` (review queue, items, users), ``disputes`` (conversations and transcripts),
``admin`` (everything, staff accounts and the audit log included). Passwords are read from
standard input (``--password-stdin``), never from the command line, and kept as argon2 hashes.
Role changes made here are written to the audit log as by ``cli``.
"""

from __future__ import annotations

import json
import sys

import click

from peerguard.cli.review import _now, _run

ROLES = ("moderator", "disputes", "admin")


def _password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.BadParameter("no password on standard input", param_hint="--password-stdin")
    return password


def _address(email: str) -> None:
    from pipeline.addresses import is_plain_address

    if not is_plain_address(email):
        raise click.BadParameter(f"not a plain email address: {email!r}", param_hint="EMAIL")


@click.group()
def staff() -> None:
    """Staff members: who may review flagged messages and use the staff console (/staff), with which role."""


@staff.command()
@click.argument("email")
@click.option("--name", help="Display name for a newly created staff user.")
@click.option("--role", type=click.Choice(ROLES), default="moderator", show_default=True, help="Console role.")
@click.option("--password-stdin", is_flag=True, help="Read the console password (12+ characters) from the first line of stdin.")
def add(email: str, name: str | None, role: str, password_stdin: bool) -> None:
    """Make the user with EMAIL a staff member with ROLE, or create a staff user (external id staff:EMAIL).

    Adding someone who is already staff changes their role (and password, if one is given).
    """
    from usecases.staff import add_account

    _address(email)
    password = _password_from_stdin() if password_stdin else None
    now = _now()
    account, created = _run(lambda context, session: add_account(session, email, role, now, name, password))
    click.echo(f"{'created staff user' if created else 'made staff'}: {account.email} (user {account.external_id}), role {account.role}"
               + ("" if account.password_hash else "; no password yet (use --password-stdin or `staff password`)"))


@staff.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
def list_(as_json: bool) -> None:
    """List staff members with their console role and whether they have a password."""
    from usecases.staff import list_accounts

    accounts = _run(lambda context, session: list_accounts(session))
    for a in accounts:
        if as_json:
            click.echo(json.dumps({"email": a.email, "user": a.external_id, "name": a.name, "role": a.role,
                                   "password": a.password_hash is not None}))
        else:
            click.echo(f"{(a.email or '-'):<36} {a.external_id:<30} {(a.role or '(none)'):<10} "
                       f"{'password set' if a.password_hash else 'no password'}")
    if not as_json:
        click.echo(f"{len(accounts)} staff member(s)", err=True)


@staff.command()
@click.argument("email")
def remove(email: str) -> None:
    """Take the staff role and console account from EMAIL; their console sessions end at once."""
    from usecases.staff import remove_account

    now = _now()
    account = _run(lambda context, session: remove_account(session, email, now))
    click.echo(f"removed staff member {account.email} (user {account.external_id})")


@staff.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
def set_role(email: str, role: str) -> None:
    """Give the staff member EMAIL the console ROLE (audited)."""
    from usecases.staff import set_role as change

    now = _now()
    account = _run(lambda context, session: change(session, email, role, now))
    click.echo(f"{account.email} is now {account.role}")


@staff.command()
@click.argument("email")
def password(email: str) -> None:
    """Set the console password of EMAIL from the first line of stdin; their sessions end."""
    from usecases.staff import set_password

    secret = _password_from_stdin()
    now = _now()
    _run(lambda context, session: set_password(session, email, secret, now))
    click.echo(f"password set for {email}")
