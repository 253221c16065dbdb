"""How the importer groups records into runs, and the lookups a run makes.

Lookups by key go in slices (``storage.bulk.lookup_chunks``): SQLite's under its parameter limit,
PostgreSQL's in one array; an import of more keys than one SQLite slice must still find them all.
Conversations interleaved with their messages, and read receipts among messages, go in one message
run (the outcomes equal the one-by-one path's: tests/foundation/test_bulk_import_equivalence.py)."""

import json
from datetime import UTC, datetime
from pathlib import Path

from storage.bulk import lookup_chunks
from storage.notifications import unread_totals
from storage.users import user_id_by_external_id
from usecases.app import App, SilentDoorbell
from usecases.importing import InterchangeImporter
from usecases.settings import Settings

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_slices_cover_the_keys_in_order_and_stay_under_sqlites_limit():
    keys = list(range(2500))
    sqlite = list(lookup_chunks(keys, postgres=False))
    assert [len(chunk) for chunk in sqlite] == [1000, 1000, 500]
    assert [k for chunk in sqlite for k in chunk] == keys
    assert [len(chunk) for chunk in lookup_chunks(keys, postgres=True)] == [2500]
    assert list(lookup_chunks([], postgres=False)) == []


def _lines(conversations: int, reads: bool = False) -> list[bytes]:
    records = [{"type": "user", "id": "u-1", "name": "Buyer", "email": "b@example.com"},
               {"type": "user", "id": "u-2", "name": "Seller", "email": "s@example.com"}]
    for c in range(conversations):
        records.append({"type": "conversation", "id": f"c-{c:05d}", "buyer": "u-1", "seller": "u-2"})
        records.append({"type": "message", "id": f"m-{c:05d}", "conversation": f"c-{c:05d}", "sender": "u-1",
                        "text": f"is lot {c} still available?", "sent_at": "2026-11-20T10:00:00Z"})
        if reads:
            records.append({"type": "read", "conversation": f"c-{c:05d}", "user": "u-2", "at": "2026-11-20T10:05:00Z"})
    return [json.dumps(r).encode() + b"\n" for r in records]


def test_an_import_of_more_keys_than_a_slice_finds_every_stored_row(settings: Settings, tmp_path: Path):
    app = App.from_settings(settings, SilentDoorbell())
    try:
        lines = _lines(1100)  # 1,100 conversations and messages: two SQLite slices each
        importer = InterchangeImporter(app.session_factory, app.blobs, tmp_path, clock=lambda: NOW)
        first = [o.status for o in importer.import_lines(lines)]
        again = [o.status for o in importer.import_lines(lines)]
    finally:
        app.dispose()
    assert first.count("created") == len(lines)
    # The second pass looks every conversation and message up by its id: none is new.
    assert "created" not in again and len(again) == len(lines)


def test_conversations_interleaved_with_their_messages_go_in_one_message_run(settings: Settings, tmp_path: Path,
                                                                             monkeypatch):
    from usecases import importing

    runs: list[int] = []
    real = importing.apply_message_run
    monkeypatch.setattr(importing, "apply_message_run", lambda session, run, *rest: runs.append(len(run)) or real(
        session, run, *rest))
    app = App.from_settings(settings, SilentDoorbell())
    try:
        importer = InterchangeImporter(app.session_factory, app.blobs, tmp_path, clock=lambda: NOW)
        outcomes = list(importer.import_lines(_lines(50)))  # c-00000, m-00000, c-00001, m-00001, …
    finally:
        app.dispose()
    assert [o.status for o in outcomes] == ["created"] * 102
    assert [o.external_id for o in outcomes][2:6] == ["c-00000", "m-00000", "c-00001", "m-00001"]  # in file order
    assert runs == [50]  # one run, not fifty runs of one message


def test_read_receipts_among_messages_go_in_the_message_run(settings: Settings, tmp_path: Path, monkeypatch):
    from usecases import importing

    runs: list[int] = []
    real = importing.apply_message_run
    monkeypatch.setattr(importing, "apply_message_run", lambda session, run, *rest: runs.append(len(run)) or real(
        session, run, *rest))
    app = App.from_settings(settings, SilentDoorbell())
    try:
        importer = InterchangeImporter(app.session_factory, app.blobs, tmp_path, clock=lambda: NOW)
        first = list(importer.import_lines(_lines(40, reads=True)))  # c, m, read, c, m, read, …
        again = list(importer.import_lines(_lines(40, reads=True)[-3:]))
        with app.session_factory() as session:
            seller = user_id_by_external_id(session, "u-2")
            totals = unread_totals(session, seller)
    finally:
        app.dispose()
    assert [(o.kind, o.status) for o in first[2:5]] == [("conversation", "created"), ("message", "created"),
                                                      ("read", "updated")]
    assert runs[0] == 80  # 40 messages and 40 receipts in one run
    assert [o.status for o in again] == ["unchanged"] * 3  # a receipt that does not move changes nothing
    assert totals[0] == 0  # the seller read every conversation
