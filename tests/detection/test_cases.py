"""Hand-written positives and hard negatives, one test each (see cases.py)."""

from __future__ import annotations

import pytest

from pipeline.detection import scan_text
from tests.detection.cases import NEGATIVES, POSITIVES


@pytest.mark.parametrize(("text", "kind"), POSITIVES, ids=[ascii(t)[:50] for t, _ in POSITIVES])
def test_positive_reports_its_kind(text: str, kind: str) -> None:
    findings = scan_text(text)
    assert kind in {f.kind for f in findings}, findings


@pytest.mark.parametrize("text", NEGATIVES, ids=[ascii(t)[:50] for t in NEGATIVES])
def test_hard_negative_is_clean(text: str) -> None:
    assert scan_text(text) == []
