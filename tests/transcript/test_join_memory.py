"""The joiner lets go of each part once it is copied, so joining does not grow with every part held.

On a 10,000-message transcript the joining process kept all 40 parts open until the save (qpdf
read copied streams from them then) and reached 356 MB, against about 70 MB for a render worker.
"""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime

import pikepdf
import pytest

from pipeline.transcript import pdfjoin
from pipeline.transcript.parts import render_glyph_sheet


def _part(number: int) -> bytes:
    import weasyprint

    body = "".join(f"<p>Part {number} line {line}</p>" for line in range(60))
    return weasyprint.HTML(string=f"<html lang='en'><body>{body}</body></html>").write_pdf(pdf_tags=True)


def test_each_part_is_released_before_the_next_is_joined(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = [_part(number) for number in range(4)]
    opened: list[pikepdf.Pdf] = []
    original = pikepdf.Pdf.open

    def recording_open(*args: object, **kwargs: object) -> pikepdf.Pdf:
        pdf = original(*args, **kwargs)
        opened.append(pdf)
        return pdf

    monkeypatch.setattr(pdfjoin.Pdf, "open", recording_open)
    held_when_asked: list[list[int]] = []

    def arriving():
        for data in parts:
            # opened[0] is the glyph sheet, kept for the footer font; opened[1:] are the parts.
            # getrefcount sees the list's reference and its own argument: 2 means nobody else holds it.
            held_when_asked.append([index - 1 for index in range(1, len(opened)) if sys.getrefcount(opened[index]) > 2])
            yield data

    pdf, pages = pdfjoin.join_parts(arriving(), render_glyph_sheet(), (), datetime(2026, 1, 2, tzinfo=UTC))

    assert held_when_asked == [[], [], [], []]
    joined = pikepdf.Pdf.open(io.BytesIO(pdf))
    assert pages == len(joined.pages) == sum(len(pikepdf.Pdf.open(io.BytesIO(part)).pages) for part in parts)
    # Every copied stream still has its data, though its part was closed before the save.
    per_part = [len(pikepdf.Pdf.open(io.BytesIO(part)).pages) for part in parts]
    first = 0
    for number, count in enumerate(per_part):
        source = pikepdf.Pdf.open(io.BytesIO(parts[number]))
        for offset in range(count):
            copied = joined.pages[first + offset]
            contents = copied.obj.Contents
            streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
            original_stream = source.pages[offset].obj.Contents
            # The joiner wraps WeasyPrint's stream between its "q" and its overlay; the middle one is the part's.
            assert streams[1].read_bytes() == original_stream.read_bytes()
        first += count


def _descendants(pid: int) -> dict[int, str]:
    """Every living descendant of ``pid`` with its command line."""
    from pathlib import Path

    found: dict[int, str] = {}
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            try:
                state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
                command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if state != "Z":
                found[child] = command
            pending.append(child)
    return found


@pytest.mark.slow
def test_parts_are_joined_once_the_workers_and_the_fork_server_are_gone(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The render pool (fork server, workers: ~170 MB on case B) and the joined document (~150 MB)
    # were both alive at the save; now the joiner starts when only the resource tracker is left.
    import os

    from pipeline.transcript import TranscriptOptions, render_transcript
    from tests.transcript.factories import NOW, BlobShelf, plain_conversation
    from usecases.transcript_rendering import render_environment

    original = pdfjoin.join_parts
    alive_at_join: list[dict[int, str]] = []

    def recording_join(*args: object, **kwargs: object):
        alive_at_join.append(_descendants(os.getpid()))
        return original(*args, **kwargs)

    monkeypatch.setattr(pdfjoin, "join_parts", recording_join)
    rendered = render_transcript(plain_conversation(160), now=NOW, environment=render_environment(BlobShelf().read, tmp_path),
                                 options=TranscriptOptions(workers=2, messages_per_part=40, min_messages_to_split=100))
    assert rendered.pages > 4
    assert len(alive_at_join) == 1
    # The fork server and its workers run "from multiprocessing.forkserver import main; …".
    helpers = {pid: command for pid, command in alive_at_join[0].items() if "multiprocessing.forkserver" in command}
    assert helpers == {}, f"render processes still alive while joining: {helpers}"
    assert not [command for command in _descendants(os.getpid()).values() if "multiprocessing.forkserver" in command]


def test_joining_does_not_list_the_joined_documents_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    # Finding each part's copied streams listed every object of the joined document twice per
    # part (len(out.objects), out.objects[n:]): work growing with the square of the part count.
    parts = [_part(number) for number in range(3)]
    original = pikepdf.Pdf.objects
    listed: list[int] = []

    def listing(pdf: pikepdf.Pdf):
        listed.append(len(pdf.pages))
        return original.__get__(pdf)

    monkeypatch.setattr(pikepdf.Pdf, "objects", property(listing))
    pdf, pages = pdfjoin.join_parts(iter(parts), render_glyph_sheet(), (), datetime(2026, 1, 2, tzinfo=UTC))
    assert listed == []
    monkeypatch.undo()
    assert pages == len(pikepdf.Pdf.open(io.BytesIO(pdf)).pages) == 3 * len(pikepdf.Pdf.open(io.BytesIO(parts[0])).pages)
