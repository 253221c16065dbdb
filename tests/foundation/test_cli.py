import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PEERGUARD = str(Path(sys.executable).parent / "peerguard")


def cli(*args, env=None, input=None, cwd=None):
    full_env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    full_env.update(env or {})
    return subprocess.run([PEERGUARD, *args], capture_output=True, text=True, env=full_env, input=input, cwd=cwd, timeout=300)


def all_commands():
    import click

    from peerguard.cli import main

    # list_commands/get_command, not .commands: the top-level group is lazy and loads a command
    # only when asked for it by name.
    context = click.Context(main)

    def walk(group, prefix):
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            yield prefix + [name]
            if isinstance(command, click.Group):
                yield from walk(command, prefix + [name])

    commands = list(walk(main, []))
    assert len(commands) > 40, commands  # every command and subcommand, not an empty walk
    return commands


@pytest.mark.parametrize("command", [[]] + all_commands(), ids=lambda c: " ".join(c) or "peerguard")
def test_every_command_explains_itself(command):
    result = cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: peerguard" in result.stdout
    # A help text of a sentence or more, not just the options list.
    assert len(result.stdout.split("Options:")[0].split()) > 6


def test_import_reports_bad_lines_and_exits_non_zero(tmp_path):
    export = tmp_path / "export.jsonl"
    export.write_text("\n".join([
        json.dumps({"type": "user", "id": "u-1", "name": "A"}),
        "{oops",
        json.dumps({"type": "user", "id": "u-2", "name": "B"}),
    ]) + "\n")
    env = {"PEERGUARD_DATA_DIR": str(tmp_path / "data")}
    result = cli("import", str(export), env=env)
    assert result.returncode == 1
    assert "export.jsonl:2: malformed JSON" in result.stderr
    assert "2 created" in result.stdout
    again = cli("import", str(export), env=env)
    assert "2 unchanged" in again.stdout


def test_bad_configuration_is_one_line(tmp_path):
    result = cli("run", "--once", env={"DATABASE_URL": "oracle://db", "PEERGUARD_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_needs_redis(tmp_path):
    result = cli("worker", env={"PEERGUARD_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2 and "REDIS_URL" in result.stderr


def test_unreachable_postgres_is_one_line(tmp_path):
    result = cli("run", "--once", env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nope"})
    assert result.returncode != 0
    assert "cannot reach the database" in result.stderr and "Traceback" not in result.stderr


def test_demo_runs_the_main_job(tmp_path):
    result = cli("demo", "--conversations", "50", env={"PEERGUARD_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr
    assert "generated 50 conversations" in result.stdout
    assert "imported:" in result.stdout and "error" not in result.stdout.split("imported:")[1].splitlines()[0]
    assert (tmp_path / "data" / "peerguard.sqlite3").exists()
    photos = list((tmp_path / "data" / "demo" / "files").glob("*.jpg"))
    assert len(photos) > 10
    # Every stage ran and left its output where the summary says.
    stages = dict(line.split(None, 1) for line in result.stdout.splitlines() if line.startswith("  ") and "(" in line and "=" in line)
    assert "findings=" in stages["scan"] and "findings=0," not in stages["scan"]
    assert "sent=" in stages["mail"]
    assert list((tmp_path / "data" / "outbox").glob("*.eml"))
    pdfs = list((tmp_path / "data" / "transcripts").rglob("*.pdf"))
    assert len(pdfs) == 1 and str(pdfs[0]) in result.stdout


def test_alembic_cli_and_peerguard_db_agree(pg_url, tmp_path):
    env = {"DATABASE_URL": pg_url}
    down = cli("db", "downgrade", "base", env=env)
    assert down.returncode == 0, down.stderr
    assert "database at base" in down.stdout
    up = subprocess.run([str(Path(sys.executable).parent / "alembic"), "upgrade", "head"], cwd=ROOT,
                        env={**os.environ, **env}, capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    current = cli("db", "current", env=env)
    lines = dict(line.split(":", 1) for line in current.stdout.strip().splitlines())
    assert lines["current"].strip() == lines["head"].strip() != "base"


COMPOSE_SERVICES = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
LONG_RUNNING = ("worker", "scheduler", "web")


def _ports(service: dict) -> set[str]:
    return {str(port) for port in service.get("ports", [])}


def test_compose_file_matches_the_readme():
    services = COMPOSE_SERVICES
    assert {"postgres", "redis", "mailpit", "migrate", "worker", "scheduler", "web"} <= set(services)
    for name in ("postgres", "redis", "mailpit"):
        assert "healthcheck" in services[name]
    env = services["worker"]["environment"]
    readme = (ROOT / "README.md").read_text()
    for variable in set(env):
        assert f"`{variable}`" in readme, variable
    assert services["migrate"]["command"] == ["peerguard", "db", "upgrade"]


def test_compose_file_is_the_production_layout():
    services = COMPOSE_SERVICES
    assert {"1025:1025", "8025:8025"} <= _ports(services["mailpit"])
    assert services["migrate"].get("restart") == "no"
    for name in LONG_RUNNING:
        service = services[name]
        assert service.get("restart") == "unless-stopped", name
        depends = service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        for backing in ("postgres", "redis"):
            assert depends[backing]["condition"] == "service_healthy", (name, backing)
    assert services["worker"]["depends_on"]["mailpit"]["condition"] == "service_healthy"

    worker = services["worker"]["command"]
    assert worker[:2] == ["peerguard", "worker"]
    assert worker[worker.index("--metrics-port") + 1] == "9191"
    assert worker[worker.index("--metrics-host") + 1] == "0.0.0.0"
    assert "9191:9191" in _ports(services["worker"])
    assert services["scheduler"]["command"] == ["peerguard", "scheduler"]
    assert services["web"]["command"] == ["peerguard", "web", "--host", "0.0.0.0", "--port", "8000"]
    assert "8000:8000" in _ports(services["web"])


def test_compose_takes_the_secret_key_from_the_environment():
    peerguard_services = {name: s for name, s in COMPOSE_SERVICES.items() if s.get("command", [None])[0] == "peerguard"}
    assert {"migrate", *LONG_RUNNING} <= set(peerguard_services)
    for name, service in peerguard_services.items():
        env = service["environment"]
        # ${VAR:?message}: compose refuses to start when the variable is unset or empty.
        assert re.fullmatch(r"\$\{PEERGUARD_SECRET_KEY:\?[^}]+\}", env["PEERGUARD_SECRET_KEY"]), name
        assert env["PEERGUARD_ENV"] == "production", name


@pytest.mark.parametrize("name", sorted(n for n, s in COMPOSE_SERVICES.items() if s.get("command", [None])[0] == "peerguard"))
def test_compose_commands_exist_in_the_cli(name):
    """The service's whole command line with --help: unknown subcommands or options exit non-zero."""
    command = COMPOSE_SERVICES[name]["command"]
    result = cli(*command[1:], "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: peerguard " + command[1] in result.stdout


@pytest.mark.parametrize(("name", "value"), [
    ("PEERGUARD_STRIKE_WARN_AT", "zero"),
    ("PEERGUARD_QUIET_HOURS", "25-7"),
    ("PEERGUARD_RESPONSE_REMINDER_MINUTES", "-5"),
    ("PEERGUARD_EMAIL_FROM", "not-an-address"),
    ("PEERGUARD_SCAN_PROCESSES", "0"),
])
def test_bad_policy_values_stop_every_command_at_start(tmp_path, name, value):
    result = cli("run", "--once", env={name: value, "PEERGUARD_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert name in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "peerguard.sqlite3").exists()  # stopped before touching anything


@pytest.mark.parametrize("command", [["run", "--once"], ["scheduler"], ["worker"]])
def test_commands_that_send_email_refuse_the_development_key_in_production(command, tmp_path):
    result = cli(*command, env={"PEERGUARD_DATA_DIR": str(tmp_path), "PEERGUARD_ENV": "production"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "PEERGUARD_SECRET_KEY" in result.stderr
    assert not (tmp_path / "outbox").exists()


def test_a_secret_key_lets_them_start(tmp_path):
    result = cli("run", "--once", env={"PEERGUARD_DATA_DIR": str(tmp_path), "PEERGUARD_ENV": "production",
                                        "PEERGUARD_SECRET_KEY": "s3cret"})
    assert result.returncode == 0, result.stderr
