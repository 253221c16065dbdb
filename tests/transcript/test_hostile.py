"""Hostile input stays bounded: an endless unbroken message, and a render that is stopped midway."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pikepdf
import pypdf
import pytest

from pipeline.transcript import TranscriptOptions, render_transcript
from pipeline.transcript.document import ZERO_WIDTH_SPACE, body_segments
from pipeline.transcript.record import RECORD_NAME, check_transcript
from tests.transcript.factories import NOW, BlobShelf, conversation, message
from usecases.transcript_rendering import render_environment

ROOT = Path(__file__).resolve().parents[2]


def test_break_opportunities_only_change_the_printed_text() -> None:
    body = "a" * 100 + " short words " + "b" * 45
    printed = "".join(s["text"] for s in body_segments(body, ()))
    assert printed.replace(ZERO_WIDTH_SPACE, "") == body
    assert all(len(run) <= 40 for run in printed.replace(" ", ZERO_WIDTH_SPACE).split(ZERO_WIDTH_SPACE))


@pytest.mark.slow
def test_a_262144_character_message_renders_in_seconds_and_keeps_its_exact_text(tmp_path: Path) -> None:
    body = "x" * 262_144
    started = time.monotonic()
    rendered = render_transcript(conversation([message(0, "hi"), message(1, body)]), now=NOW,
                                 environment=render_environment(BlobShelf().read, tmp_path),
                                 options=TranscriptOptions(time_limit_seconds=120))
    elapsed = time.monotonic() - started
    # Before the fix this took more than 600 s; the bound leaves room for a loaded machine.
    assert elapsed < 45, f"took {elapsed:.1f} s"
    pdf = pikepdf.Pdf.open(io.BytesIO(rendered.pdf))  # kept open: the attachment reads from it
    record = pdf.attachments[RECORD_NAME].get_file().read_bytes()
    assert json.loads(record.decode("utf-8").split("\n")[2])["body"] == body
    assert check_transcript(rendered.pdf)[0].ok
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(rendered.pdf)).pages)
    assert "212,144 more characters of message msg-00001 are not printed" in " ".join(text.split())


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    pending = [pid]
    while pending:
        current = pending.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    pending.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _as_a_shell_starts_a_foreground_command() -> None:
    """Ctrl-C reaches a command a shell runs in the foreground: SIGINT at its default, not blocked.

    The test run itself may have been started with SIGINT ignored (a background job of a
    non-interactive shell, `nohup … &`), and an exec'd child inherits that: its Python would
    then never see KeyboardInterrupt, whatever the render does.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _start_slow_render(tmp_path: Path, helpers_wanted: int = 3, settle: float = 1.0) -> tuple[subprocess.Popen, set[int]]:
    process = subprocess.Popen([sys.executable, "-m", "tests.transcript.slow_render", str(tmp_path)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=_as_a_shell_starts_a_foreground_command)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        helpers = _descendants(process.pid)
        if len(helpers) >= helpers_wanted:  # by default the fork server and two render workers
            time.sleep(settle)
            return process, _descendants(process.pid)
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the render workers never started")


def _wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    return {p for p in pids if _alive(p)}


def _kill_all(process: subprocess.Popen, pids: set[int]) -> None:
    """Whatever a stopping test leaves behind: the render, its descendants and the helpers it saw."""
    for pid in _descendants(process.pid) | pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_stopping_a_render_ends_its_fork_server_and_workers(tmp_path: Path, how: signal.Signals) -> None:
    process, helpers = _start_slow_render(tmp_path)
    try:
        os.kill(process.pid, how)
        process.wait(timeout=30)
        left = _wait_gone(helpers, 15)
        assert not left, f"orphan render processes after {how.name}: {sorted(left)}"
    finally:
        _kill_all(process, helpers)


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_stopping_a_render_while_its_pool_is_still_starting_leaves_nothing(tmp_path: Path, how: signal.Signals) -> None:
    # The first helper is the fork server (or the resource tracker) while it still imports
    # WeasyPrint: the pool's background start has not finished when the signal arrives.
    process, _ = _start_slow_render(tmp_path, helpers_wanted=1, settle=0.0)
    seen: set[int] = set()
    try:
        os.kill(process.pid, how)
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            seen |= _descendants(process.pid)
            time.sleep(0.05)
        assert process.poll() is not None, f"the render was still running 30 s after {how.name}"
        left = _wait_gone(seen, 15)
        assert not left, f"orphan render processes after {how.name}: {sorted(left)}"
    finally:
        _kill_all(process, seen)
