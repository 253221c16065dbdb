import subprocess
import sys
from pathlib import Path

import pytest

from usecases.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_live_in_the_data_directory(tmp_path):
    settings = Settings.from_environment({}, cwd=tmp_path)
    assert settings.data_dir == (tmp_path / "var").resolve()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'peerguard.sqlite3'}"
    assert settings.redis_url is None
    assert settings.email_url == (tmp_path / "var" / "outbox").resolve().as_uri()
    assert settings.platform_domains == ("peermetals.com",)


def test_bare_postgres_scheme_uses_psycopg3():
    settings = Settings.from_environment({"DATABASE_URL": "postgresql://u@db/pg"})
    assert settings.database_url == "postgresql+psycopg://u@db/pg"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL"),
        ("REDIS_URL", "http://localhost", "REDIS_URL"),
        ("EMAIL_URL", "ftp://mail", "EMAIL_URL"),
        ("EMAIL_URL", "smtp://", "EMAIL_URL"),
        ("EMAIL_URL", "smtp://host:notaport", "port"),
        ("PEERGUARD_PLATFORM_DOMAINS", "peermetals.com, not a domain", "PEERGUARD_PLATFORM_DOMAINS"),
        ("PEERGUARD_STAFF_EMAIL", "staff", "PEERGUARD_STAFF_EMAIL"),
    ],
)
def test_bad_values_name_the_variable(name, value, fragment):
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_environment({name: value})


def test_platform_domains_are_normalised():
    settings = Settings.from_environment({"PEERGUARD_PLATFORM_DOMAINS": "PeerMetals.com., pm.example"})
    assert settings.platform_domains == ("peermetals.com", "pm.example")


def lint_imports() -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True)


def contract_names() -> list[str]:
    import tomllib

    return [c["name"] for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]]


def test_layering_contracts_hold():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contract_names())} kept, 0 broken" in result.stdout


PROBES = {
    "Layers: entry points > actors > use cases > storage > pure core": ("pipeline", "import storage.db"),
    "The pure core reaches no infrastructure": ("pipeline", "import sqlalchemy"),
    "Only storage touches SQL": ("usecases", "import sqlalchemy"),
    "Nothing imports the entry points": ("storage", "import peerguard.cli"),
    "Use cases never reach the broker": ("usecases", "import dramatiq"),
}


def test_every_contract_has_a_probe():
    assert sorted(PROBES) == sorted(contract_names())


@pytest.mark.parametrize("contract", sorted(PROBES))
def test_each_contract_catches_a_violation(contract):
    """Each contract is live: a module breaking it makes lint-imports fail and name it."""
    package, line = PROBES[contract]
    bad = ROOT / package / "_layering_probe.py"
    bad.write_text(f"{line}  # deliberately wrong\n")
    try:
        result = lint_imports()
    finally:
        bad.unlink()
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout
    assert f"{package}._layering_probe" in result.stdout


@pytest.mark.parametrize("line", ["import multiprocessing.pool", "import subprocess", "from tempfile import mkstemp", "import os"])
def test_pure_core_spawns_no_processes_and_touches_no_files(line):
    """Processes, temporary files and the os module stay outside the pure core."""
    bad = ROOT / "pipeline" / "_layering_probe.py"
    bad.write_text(f"{line}  # deliberately wrong\n")
    try:
        result = lint_imports()
    finally:
        bad.unlink()
    assert "The pure core reaches no infrastructure BROKEN" in result.stdout
    assert "pipeline._layering_probe" in result.stdout
