"""``peerguard demo`` shows issue 12's notices: its outbox holds one of each, and it prints the counts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

PEERGUARD = str(Path(sys.executable).parent / "peerguard")
NEW_NOTICES = ("new-message", "new-message-digest", "account-restricted", "restriction-lifted", "strike-overturned",
               "policy-warning")
RESPONSE_NOTICES = ("response-reminder", "response-final-warning", "response-breach")


def test_the_demo_outbox_holds_every_new_notice_and_the_summary_counts_them(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "PEERGUARD_STAFF_EMAIL")}
    env["PEERGUARD_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run([PEERGUARD, "demo", "--conversations", "40"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr

    emails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in (tmp_path / "data" / "outbox").glob("*.eml")]
    kinds = Counter(e["X-PeerGuard-Notice"] for e in emails)
    for notice in NEW_NOTICES:
        assert kinds[notice] >= 1, (notice, kinds)
    grouped = [e for e in emails if e["X-PeerGuard-Notice"] in RESPONSE_NOTICES
               and len(set(re.findall(r"/messages/(c-[\w-]+)", e.get_body(("plain",)).get_content()))) > 1]
    assert grouped, "no response email lists several conversations"

    summary = next(line for line in result.stdout.splitlines() if line.startswith("emails sent: "))
    sent = dict(pair.split("=") for pair in summary.removeprefix("emails sent: ").split(", "))
    assert {k: int(v) for k, v in sent.items()} == dict(kinds)
    assert "staff walk-through as demo-reviewer@peermetals.com: confirmed=3, strikes=3, overturned=1" in result.stdout
    assert re.search(r"dashboard notifications: \d+ \(unread \d+\)", result.stdout)
