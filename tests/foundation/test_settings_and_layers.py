import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_live_in_the_data_directory(tmp_path):
    settings = Settings.from_mapping({}, cwd=tmp_path)
    assert settings.data_dir == (tmp_path / "var").resolve()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'peerguard.sqlite3'}"
    assert settings.redis_url is None
    assert settings.email_url == (tmp_path / "var" / "outbox").resolve().as_uri()
    assert settings.platform_domains == ("peermetals.com",)


def test_bare_postgres_scheme_uses_psycopg3():
    settings = Settings.from_mapping({"DATABASE_URL": "postgresql://u@db/pg"})
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
        Settings.from_mapping({name: value})


def test_platform_domains_are_normalised():
    settings = Settings.from_mapping({"PEERGUARD_PLATFORM_DOMAINS": "PeerMetals.com., pm.example"})
    assert settings.platform_domains == ("peermetals.com", "pm.example")


def test_layering_contract_holds():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), str(ROOT / "pyproject.toml")],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout


def test_layering_contract_catches_a_violation(tmp_path):
    """The contract is live: a pipeline module importing storage breaks it."""
    bad = ROOT / "pipeline" / "_layering_probe.py"
    bad.write_text("import storage.db  # deliberately wrong\n")
    try:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "lint-imports"), str(ROOT / "pyproject.toml"), "--no-cache"],
            cwd=ROOT, capture_output=True, text=True,
        )
    finally:
        bad.unlink()
    assert result.returncode != 0
    assert "pipeline._layering_probe" in result.stdout
