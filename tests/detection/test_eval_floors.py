"""The detection floors on the shared development corpus, measured through the real ``peerguard scan``.

The corpus lives outside the repository (``../shared/eval``); without it these tests are skipped
(see the ``shared_eval`` fixture in tests/conftest.py).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def metrics(shared_eval: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    scorer = shared_eval / "run_eval.py"
    if not scorer.exists():
        pytest.fail(f"{shared_eval} exists but has no run_eval.py")
    out = tmp_path_factory.mktemp("eval") / "metrics.json"
    command = f"{shlex.quote(sys.executable)} -c 'from peerguard.cli import main; main()' scan"
    subprocess.run(
        [sys.executable, str(scorer), "--cmd", command, "--conversations", "--show", "0",
         "--json-out", str(out)],
        check=True, capture_output=True, timeout=600, cwd=ROOT,
    )
    return json.loads(out.read_text())


def test_message_precision_and_recall(metrics: dict) -> None:  # type: ignore[type-arg]
    assert metrics["messages"]["precision"] >= 0.97
    assert metrics["messages"]["recall"] >= 0.95


def test_every_kind_recall(metrics: dict) -> None:  # type: ignore[type-arg]
    for kind, recall in metrics["messages"]["kind_recall"].items():
        assert recall >= 0.90, kind


def test_conversation_f1(metrics: dict) -> None:  # type: ignore[type-arg]
    assert metrics["conversations"]["f1"] >= 0.90
