"""``peerguard scan-file`` as a user runs it: a real process, JSON lines out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.attachments import files

PEERGUARD = Path(sys.executable).with_name("peerguard")


def test_scan_file_prints_one_json_line_per_file(tmp_path):
    (tmp_path / "note.jpg").write_bytes(files.text_image(["text me 602 555 0148"]))
    (tmp_path / "bomb.png").write_bytes(files.png_header_bomb(60_000, 60_000))
    (tmp_path / "notes.txt").write_text("my venmo is @Coin-Guy-22")
    run = subprocess.run([str(PEERGUARD), "scan-file", "note.jpg", "bomb.png", "notes.txt", "--platform-domain", "peermetals.com"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [line["file"] for line in lines] == ["note.jpg", "bomb.png", "notes.txt"]
    assert [(f["kind"], f["value"], f["page"], f["source"]) for f in lines[0]["findings"] if f["kind"] == "phone"] == [
        ("phone", "+16025550148", 0, "ocr")]
    assert len(lines[0]["findings"][0]["box"]) == 4
    assert lines[1]["status"] == "unreadable" and lines[1]["reason"]
    assert "payment" in {f["kind"] for f in lines[2]["findings"]}


def test_missing_file_is_an_error_line_and_exit_status_1(tmp_path):
    run = subprocess.run([str(PEERGUARD), "scan-file", "nope.jpg"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert json.loads(run.stdout) == {"file": "nope.jpg", "error": "No such file or directory"}
