"""The code passes ruff (pyflakes, pycodestyle, bugbear, import order), as configured in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", str(ROOT)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_really_checks(tmp_path):
    # The same invocation on a file with an unused import must fail, so a silent ruff cannot pass.
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select", "F", str(bad)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1 and "F401" in result.stdout
