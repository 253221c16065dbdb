"""The issue's floors on the labelled development images (../shared/eval/images-dev; skipped without it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_precision_and_recall_floors_on_the_development_images(shared_eval):
    images = shared_eval / "images-dev"
    if not (images / "labels.jsonl").exists():
        pytest.skip("../shared/eval/images-dev not found: image floors skipped")
    sys.path.insert(0, str(ROOT / "bench"))
    import images_bench

    labels = [json.loads(line) for line in (images / "labels.jsonl").read_text().splitlines() if line.strip()]
    predicted = {rec["file"]: images_bench.peerguard_kinds((images / rec["file"]).read_bytes()) for rec in labels}
    result = images_bench.score(labels, predicted)
    assert result["precision"] >= 0.95, result
    assert result["recall"] >= 0.90, result
