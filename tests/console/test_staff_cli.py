"""``peerguard staff add|list|remove|set-role|password`` against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.models import AuditEntry
from usecases import staff

PEERGUARD = str(Path(sys.executable).parent / "peerguard")


@pytest.fixture
def cli(app, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env |= {"DATABASE_URL": app.settings.database_url, "PEERGUARD_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([PEERGUARD, *args], capture_output=True, text=True, env=env, timeout=120, input=input)

    return run


def test_staff_accounts_from_add_to_remove(cli, app):
    plain = cli("staff", "add", "dee@peermetals.com")
    assert plain.returncode == 0 and "created staff user" in plain.stdout and "role moderator" in plain.stdout
    assert "no password yet" in plain.stdout
    added = cli("staff", "add", "ada@peermetals.com", "--role", "admin", "--password-stdin", input="a long enough secret\n")
    assert added.returncode == 0, added.stderr
    listed = [json.loads(line) for line in cli("staff", "list", "--json").stdout.splitlines()]
    assert [(a["email"], a["role"], a["password"]) for a in listed] == [
        ("ada@peermetals.com", "admin", True), ("dee@peermetals.com", "moderator", False)]
    assert cli("staff", "set-role", "dee@peermetals.com", "disputes").stdout.strip() == "dee@peermetals.com is now disputes"
    assert cli("staff", "password", "dee@peermetals.com", input="another long secret\n").returncode == 0
    removed = cli("staff", "remove", "dee@peermetals.com")
    assert removed.returncode == 0 and "removed staff member dee@peermetals.com" in removed.stdout
    assert [json.loads(line)["email"] for line in cli("staff", "list", "--json").stdout.splitlines()] == ["ada@peermetals.com"]
    with app.session_factory() as session:
        changes = [(a.subject, a.detail) for a in session.query(AuditEntry).filter_by(action="role_change").order_by(AuditEntry.id)]
    assert changes == [("staff dee@peermetals.com", {"from": None, "to": "moderator"}),
                       ("staff ada@peermetals.com", {"from": None, "to": "admin"}),
                       ("staff dee@peermetals.com", {"from": "moderator", "to": "disputes"}),
                       ("staff dee@peermetals.com", {"from": "disputes", "to": None})]


@pytest.mark.parametrize("args, stdin, status, message", [
    (["staff", "add", "x@peermetals.com", "--role", "boss"], None, 2, "Invalid value for '--role'"),
    (["staff", "add", "x@peermetals.com", "--password-stdin"], "short\n", 2, "at least 12 characters"),
    (["staff", "add", "x@peermetals.com", "--password-stdin"], "", 2, "no password on standard input"),
    (["staff", "remove", "nobody@peermetals.com"], None, 6, "not a staff member"),
    (["staff", "set-role", "nobody@peermetals.com", "admin"], None, 6, "not a staff member"),
])
def test_refusals_are_one_line_with_their_status(cli, args, stdin, status, message):
    result = cli(*args, input=stdin)
    assert result.returncode == status and message in result.stderr, result.stderr


def test_staff_from_an_import_have_no_console_role_until_set_role_gives_one(cli, app, tmp_path):
    lines = [{"type": "user", "id": "u-700", "name": "Sue", "email": "sue@peermetals.com", "role": "staff"},
             {"type": "user", "id": "u-701", "name": "No Mail", "role": "staff"}]
    (tmp_path / "staff.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert cli("import", str(tmp_path / "staff.jsonl")).returncode == 0
    listed = {a["user"]: a for a in map(json.loads, cli("staff", "list", "--json").stdout.splitlines())}
    assert (listed["u-700"]["role"], listed["u-701"]["role"]) == (None, None)

    refused = cli("staff", "password", "sue@peermetals.com", input="a long enough secret\n")
    assert refused.returncode == 6 and "no console role yet" in refused.stderr and "staff set-role" in refused.stderr
    no_mail = cli("staff", "set-role", "u-701", "moderator")
    assert no_mail.returncode == 6 and "no email address" in no_mail.stderr

    assert cli("staff", "set-role", "sue@peermetals.com", "disputes").stdout.strip() == "sue@peermetals.com is now disputes"
    assert cli("staff", "password", "sue@peermetals.com", input="a long enough secret\n").returncode == 0
    token, who = staff.sign_in(app, "sue@peermetals.com", "a long enough secret", "10.0.0.7", datetime.now(UTC))
    assert (who.external_id, who.role) == ("u-700", "disputes") and token
    with app.session_factory() as session:
        changes = [(a.subject, a.detail) for a in session.query(AuditEntry).filter_by(action="role_change")]
    assert changes == [("staff sue@peermetals.com", {"from": None, "to": "disputes"})]
