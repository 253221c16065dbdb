"""Transcript requests whose broker message was lost are rendered by run --once."""

import json
from datetime import datetime, timezone

from pypdf import PdfReader

from actors.stages import run_once
from usecases.importing import InterchangeImporter
from usecases.transcripts import request_transcript

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def test_requested_transcript_is_rendered_by_the_next_run(app, stub_broker, tmp_path):
    lines = [
        {"type": "user", "id": "b", "name": "Buyer"},
        {"type": "user", "id": "s", "name": "Seller", "timezone": "America/Denver"},
        {"type": "conversation", "id": "c-77", "buyer": "b", "seller": "s", "order": "o-1"},
        {"type": "message", "id": "m1", "conversation": "c-77", "sender": "b",
         "sent_at": "2026-11-25T10:00:00Z", "text": "Is the <b>Krugerrand</b> still available?"},
    ]
    path = tmp_path / "e.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    list(InterchangeImporter(app.session_factory, app.blobs, tmp_path).import_lines(path.open("rb")))
    request_transcript(app, "c-77", "handler@peermetals.com", NOW)
    stub_broker.flush_all()  # the doorbell is lost: nothing but the database knows

    results = run_once(app, NOW)
    assert results["transcripts"] == {"done": 1}
    pdfs = list((app.settings.data_dir / "transcripts").rglob("*.pdf"))
    assert len(pdfs) == 1
    text = "".join(page.extract_text() for page in PdfReader(pdfs[0]).pages)
    assert "Is the <b>Krugerrand</b> still available?" in text
    assert run_once(app, NOW)["transcripts"] == {}
