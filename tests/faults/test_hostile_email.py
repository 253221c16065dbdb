"""Hostile names and addresses: a display name is never read as an encoded word or a list, and
every address the sender would refuse is refused at import already."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.interchange import InterchangeError, parse_record
from storage.db import transaction
from storage.outbox import NoticeRequest, enqueue_notices
from tests.responses.smtp_server import RecordingHandler, start_server
from tests.responses.test_delivery import NOW, make_context
from usecases.notices import deliver_outbox

HOSTILE = "=?utf-8?b?RXZlIDxhdHRhY2tlcjQwQGV2aWwuY29tPiw=?="  # decodes to "Eve <attacker40@evil.com>,"
BIN = Path(sys.executable).parent


def squeeze(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("name", [HOSTILE, 'Eve <attacker@evil.com>, "x"', "Zoë =?x?q?y?= Ångström", "Sam"])
def test_display_names_reach_the_server_as_one_recipient_with_their_exact_text(pg_url, tmp_path, name):
    handler = RecordingHandler()
    controller = start_server(handler)
    context = make_context(pg_url, tmp_path, controller.port)
    context_values = {"item_id": 1, "kind": "payment", "sender_email": "x@example.com", "excerpt": "iban",
                      "review_url": "https://peermetals.com/r"}
    with transaction(context.session_factory) as s:
        enqueue_notices(s, [NoticeRequest("flag-alert", "victim0@example.com", name, context_values, "hostile")], NOW)
    assert deliver_outbox(context, NOW)["sent"] == 1
    (received,) = handler.messages
    raw_to = received["To"]  # parsed once from the bytes on the wire, as a mail reader does
    addresses = raw_to.addresses
    assert [a.addr_spec for a in addresses] == ["victim0@example.com"], str(raw_to)
    # Python's parser puts a space between adjacent encoded words; the text is otherwise exact.
    assert squeeze(addresses[0].display_name) == squeeze(name)
    assert "attacker" not in str(raw_to) or name != HOSTILE
    controller.stop()
    context.dispose()


BAD_ADDRESSES = ["a\tb@example.com", "ab@example.com\t", "a\x0bb@example.com", "a\x0cb@example.com",
                 "a\x85b@example.com", "a\u2028b@example.com", "ab@exa\u2029mple.com", "a b@example.com",
                 "Eve <eve@example.com>", "a@example.com, b@example.com"]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_addresses_the_sender_would_refuse_are_refused_at_import(address):
    with pytest.raises(InterchangeError, match="malformed email"):
        parse_record({"type": "user", "id": "u-1", "name": "U", "email": address})


def test_import_reports_each_bad_address_and_keeps_the_good_users(tmp_path):
    lines = [{"type": "user", "id": f"u-{i}", "name": f"U{i}", "email": address} for i, address in enumerate(BAD_ADDRESSES)]
    lines.append({"type": "user", "id": "u-ok", "name": "Ok", "email": "ok@example.com"})
    path = tmp_path / "users.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    env = {"PEERGUARD_DATA_DIR": str(tmp_path / "d"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([str(BIN / "peerguard"), "import", str(path)], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.count("malformed email") == len(BAD_ADDRESSES), result.stderr
