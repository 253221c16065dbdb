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


def test_regrouping_moves_records_only_past_records_they_do_not_depend_on():
    from pipeline.interchange import parse_record
    from usecases.importing import _regrouped

    def user(u):
        return {"type": "user", "id": u, "name": u, "email": f"{u}@example.com"}

    def conversation(c, buyer, seller):
        return {"type": "conversation", "id": c, "buyer": buyer, "seller": seller}

    def message(m, c, sender):
        return {"type": "message", "id": m, "conversation": c, "sender": sender, "text": "hi",
                "sent_at": "2026-11-20T10:00:00Z"}

    def read(c, u):
        return {"type": "read", "conversation": c, "user": u, "at": "2026-11-20T10:05:00Z"}

    objects = [user("u-1"), user("u-2"), conversation("c-1", "u-1", "u-2"), message("m-1", "c-1", "u-1"),
               user("u-1"),  # named by c-1, but its line came first: moves up
               user("u-3"), conversation("c-2", "u-1", "u-3"), message("m-2", "c-2", "u-3"), read("c-2", "u-1"),
               message("m-3", "c-3", "u-1"),  # before c-3's line: the stretch ends at that line
               conversation("c-3", "u-1", "u-4"),  # names u-4 before u-4's line: the stretch ends there
               user("u-4"), message("m-4", "c-3", "u-4")]
    order = [index for index, _ in _regrouped([(i, parse_record(o)) for i, o in enumerate(objects)])]
    assert order == [0, 1, 4, 5, 2, 6, 3, 7, 8, 9,  # users, conversations, messages and receipts
                     10,  # c-3 after m-3, which must not see it
                     11, 12]  # u-4 after c-3, which must not see it


def test_a_run_that_repeats_ids_goes_as_runs_of_distinct_ids_keeping_each_ids_order():
    from pipeline.interchange import parse_record
    from usecases.importing import _distinct_runs

    names = ["u-1", "u-2", "u-1", "u-3", "u-1", "u-2"]
    run = [(i, parse_record({"type": "user", "id": u, "name": f"{u} #{i}", "email": "a@example.com"}))
           for i, u in enumerate(names)]
    assert [[i for i, _ in part] for part in _distinct_runs(run)] == [[0, 1, 3], [2, 5], [4]]


def test_last_read_receipts_inside_a_streak_are_recounted_in_the_run(settings: Settings, tmp_path: Path, monkeypatch):
    """A dump's receipts: the buyer read up to the seller's third answer of five; recounted without
    leaving the run (the one-by-one path's answer: two unread)."""
    from usecases import importing

    one_by_one: list[int] = []
    real = importing.apply_one
    monkeypatch.setattr(importing, "apply_one", lambda session, record, *rest: one_by_one.append(record) or real(
        session, record, *rest))
    records = [{"type": "user", "id": "u-1", "name": "Buyer", "email": "b@example.com"},
               {"type": "user", "id": "u-2", "name": "Seller", "email": "s@example.com"},
               {"type": "conversation", "id": "c-1", "buyer": "u-1", "seller": "u-2"}]
    records += [{"type": "message", "id": f"m-{k}", "conversation": "c-1", "sender": "u-1" if k < 5 else "u-2",
                 "text": "hello", "sent_at": f"2026-11-20T10:{k:02d}:00Z"} for k in range(10)]
    records.append({"type": "read", "conversation": "c-1", "user": "u-1", "at": "2026-11-20T10:07:00Z"})
    app = App.from_settings(settings, SilentDoorbell())
    try:
        importer = InterchangeImporter(app.session_factory, app.blobs, tmp_path, clock=lambda: NOW)
        outcomes = list(importer.import_lines([json.dumps(r).encode() + b"\n" for r in records]))
        with app.session_factory() as session:
            totals = unread_totals(session, user_id_by_external_id(session, "u-1"))
    finally:
        app.dispose()
    assert outcomes[-1].status == "updated"
    assert one_by_one == []  # the ten messages and the receipt went together
    assert totals == (1, 2)  # m-8 and m-9 are still unread
