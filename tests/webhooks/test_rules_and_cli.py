"""Webhook rules (pure) and the `peerguard webhooks` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline import webhooks as rules

T0 = datetime(2026, 12, 1, tzinfo=UTC)
PEERGUARD = str(Path(sys.executable).parent / "peerguard")


def test_backoff_grows_and_ends_exactly_a_day_after_the_event():
    tries, now, attempts = [], T0, 0
    while (now := rules.retry_at(attempts := attempts + 1, T0, now)) is not None:
        tries.append(now)
    gaps = [b - a for a, b in zip([T0, *tries], tries, strict=False)]
    assert gaps[:3] == [timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2)]
    assert max(gaps) <= timedelta(hours=4) and tries[-1] == T0 + rules.RETRY_FOR


def test_event_types_and_subscriptions():
    assert rules.parse_event_types(["strike.issued, user.restricted"]) == ["strike.issued", "user.restricted"]
    assert rules.parse_event_types(["*", "strike.issued"]) == ["*"]
    with pytest.raises(ValueError, match="strike.typo"):
        rules.parse_event_types(["strike.typo"])
    assert rules.subscribed(["*"], "transcript.ready") and not rules.subscribed(["strike.issued"], "transcript.ready")
    assert rules.should_disable(T0, T0 + timedelta(hours=24)) and not rules.should_disable(T0, T0 + timedelta(hours=23))
    assert rules.payload("strike.issued", {"user": "u-1"}, T0) == {
        "type": "strike.issued", "timestamp": "2026-12-01T00:00:00Z", "data": {"user": "u-1"}}


def test_the_webhooks_commands(sqlite_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": sqlite_url, "PEERGUARD_DATA_DIR": str(tmp_path)}

    def run(*args):
        return subprocess.run([PEERGUARD, "webhooks", *args], env=env, capture_output=True, text=True, timeout=120)

    added = run("add", "https://hooks.example.com/peerguard", "--events", "strike.issued,user.restricted")
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines()[0] == "endpoint 1" and added.stdout.splitlines()[1].startswith("secret whsec_")
    assert run("add", "https://x.example.com", "--events", "bogus").returncode == 2
    listed = json.loads(run("list", "--json").stdout)
    assert listed == [{"id": 1, "url": "https://hooks.example.com/peerguard", "events": ["strike.issued", "user.restricted"],
                       "status": "enabled", "failing_since": None, "disabled_reason": None}]
    assert "whsec_" not in run("list").stdout  # the secret is shown once, at creation
    assert json.loads(run("deliveries", "--json").stdout) == []
    assert run("redeliver", "99").returncode == 4
    assert run("remove", "1").returncode == 0 and run("remove", "1").returncode == 4
