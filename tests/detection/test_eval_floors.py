"""The development corpus floors from issue 3, measured through the real ``peerguard scan``."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVAL_DIR = ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    if not (EVAL_DIR / "run_eval.py").exists():
        pytest.fail(f"the shared evaluation corpus is missing at {EVAL_DIR}")
    out = tmp_path_factory.mktemp("eval") / "metrics.json"
    command = f"{shlex.quote(sys.executable)} -c 'from peerguard.cli import main; main()' scan"
    subprocess.run(
        [sys.executable, str(EVAL_DIR / "run_eval.py"), "--cmd", command, "--conversations", "--show", "0",
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
