"""Each page of a joined transcript names only the photos it paints, so its digest hashes only those."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pikepdf

from pipeline.transcript import TranscriptOptions, render_transcript
from pipeline.transcript.record import check_transcript
from tests.transcript.factories import NOW, BlobShelf, conversation, jpeg, message
from usecases.transcript_rendering import render_environment

PAINTED = re.compile(rb"/([^\s/<>\[\]()%{}]+)\s+Do\b")


def test_pages_list_only_the_photos_they_paint_and_still_verify(tmp_path: Path) -> None:
    shelf = BlobShelf()
    messages = [message(i, f"Message {i} about the coin.") for i in range(200)]
    for i in range(0, 200, 20):  # ten photos, spread over the parts
        photo = shelf.add(jpeg(800, 600, color=(i, 90, 200 - i)), f"p{i}.jpg", "image/jpeg")
        messages[i] = message(i, f"Photo {i}", attachments=[photo])
    rendered = render_transcript(conversation(messages), now=NOW, environment=render_environment(shelf.read, tmp_path),
                                 options=TranscriptOptions(workers=2))
    pdf = pikepdf.open(io.BytesIO(rendered.pdf))
    shown = 0
    for page in pdf.pages:
        named = set(page.obj.Resources.get("/XObject", {}).keys())
        contents = page.obj.Contents
        streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
        painted = {"/" + n.decode() for s in streams for n in PAINTED.findall(s.read_bytes())}
        assert named == painted
        shown += len(named)
    assert shown == 10
    report, _ = check_transcript(rendered.pdf)
    assert report.differences == ()
