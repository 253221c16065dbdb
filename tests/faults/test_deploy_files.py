"""deploy/: the alert rules and the dashboard query only metrics PeerGuard exports; compose wires them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from usecases.status import gauges

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def exported_metric_names(app) -> set[str]:
    from datetime import UTC, datetime

    from actors import metrics

    names = {g.name for g in gauges(app, datetime.now(UTC))} | {"peerguard_database_up", "up"}
    for value in vars(metrics).values():
        if hasattr(value, "_name") and hasattr(value, "_type"):
            base = value._name
            names |= {base, f"{base}_total", f"{base}_bucket", f"{base}_sum", f"{base}_count"}
    return names


def metrics_in(expr: str) -> set[str]:
    return {name for name in re.findall(r"\b([a-z_][a-z0-9_]*)\b(?=\s*[{\[)]|\s*(?:==|>|<|$))", expr)
            if name.startswith("peerguard_") or name == "up"}


def test_alerts_and_dashboard_use_only_exported_metrics(app):
    known = exported_metric_names(app)
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())["groups"][0]["rules"]
    assert len(rules) >= 8
    used = set()
    for rule in rules:
        assert rule["alert"].startswith("PeerGuard") and rule["annotations"]["summary"]
        used |= metrics_in(rule["expr"])
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/peerguard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= metrics_in(target["expr"])
    assert used and used <= known, used - known
    # Every backlog the issue names is on the dashboard.
    for needed in ("peerguard_unscanned_oldest_age_seconds", "peerguard_outbox_emails", "peerguard_review_oldest_pending_age_seconds",
                   "peerguard_response_sweep_lag_seconds", "peerguard_commit_to_scan_seconds_bucket",
                   "peerguard_email_send_seconds_bucket", "peerguard_webhook_pending_deliveries"):
        assert needed in used, needed


def test_compose_observability_profile_and_healthchecks():
    for name in ("prometheus", "grafana"):
        assert COMPOSE[name]["profiles"] == ["observability"]
        for volume in COMPOSE[name]["volumes"]:
            assert (ROOT / volume.split(":")[0]).exists(), volume
    assert COMPOSE["worker"]["healthcheck"]["test"][1:4] == ["peerguard", "health", "worker"]
    assert COMPOSE["scheduler"]["healthcheck"]["test"][1:4] == ["peerguard", "health", "scheduler"]
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["worker:9191"]


def test_health_fails_without_a_fresh_heartbeat(tmp_path, monkeypatch):
    import os
    import time

    from click.testing import CliRunner

    from peerguard.cli import main
    from storage.heartbeats import beat, heartbeat_dir

    monkeypatch.setenv("PEERGUARD_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(main, ["health", "scheduler"]).exit_code == 1
    beat(heartbeat_dir(tmp_path), "scheduler-123")
    assert runner.invoke(main, ["health", "scheduler"]).exit_code == 0
    old = time.time() - 300
    os.utime(heartbeat_dir(tmp_path) / "scheduler-123", (old, old))
    result = runner.invoke(main, ["health", "scheduler", "--max-age", "60"])
    assert result.exit_code == 1 and "last 300 s ago" in result.output
