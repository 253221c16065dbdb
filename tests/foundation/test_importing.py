import io
import json
import os
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from storage.models import Attachment, Conversation, Message, User
from usecases.importing import ImportReport, InterchangeImporter


def jpeg_bytes(color=(200, 170, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, "JPEG")
    return buf.getvalue()


def write_export(folder: Path, lines: list) -> Path:
    path = folder / "export.jsonl"
    with path.open("wb") as out:
        for item in lines:
            out.write(item if isinstance(item, bytes) else json.dumps(item).encode())
            out.write(b"\n")
    return path


BASE = [
    {"type": "user", "id": "u-1", "name": "Buyer", "email": "b@example.com"},
    {"type": "user", "id": "u-2", "name": "Seller", "email": "s@example.com", "timezone": "America/Chicago"},
    {"type": "conversation", "id": "c-1", "buyer": "u-1", "seller": "u-2", "subject": "Eagle", "order": "o-1"},
]


def msg(mid, text="hello", sender="u-1", attachments=(), conv="c-1"):
    return {"type": "message", "id": mid, "conversation": conv, "sender": sender,
            "sent_at": "2026-11-25T14:03:00Z", "text": text, "attachments": list(attachments)}


def run_import(app, path: Path) -> tuple[ImportReport, list[int]]:
    report, enqueued = ImportReport(), []
    importer = InterchangeImporter(app.session_factory, app.blobs, path.parent, batch_size=3)
    for outcome in importer.import_lines(path.open("rb"), on_commit=enqueued.extend):
        report.add(outcome)
    return report, enqueued


def count(app, model) -> int:
    with app.session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_import_is_idempotent(app, tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.jpg").write_bytes(jpeg_bytes())
    (tmp_path / "files" / "same.jpg").write_bytes(jpeg_bytes())
    path = write_export(tmp_path, BASE + [
        msg("m-1", attachments=[{"path": "files/a.jpg", "name": "eagle.jpg"}, {"path": "files/same.jpg"}]),
        msg("m-2", "reply", sender="u-2"),
    ])
    first, enqueued = run_import(app, path)
    assert first.counts == {"created": 5}
    assert len(enqueued) == 2
    second, enqueued_again = run_import(app, path)
    assert second.counts == {"unchanged": 5}
    assert enqueued_again == []
    assert count(app, Message) == 2
    with app.session_factory() as s:
        atts = s.scalars(select(Attachment).order_by(Attachment.position)).all()
    assert [a.original_name for a in atts] == ["eagle.jpg", "same.jpg"]
    assert atts[0].content_type == "image/jpeg"
    assert atts[0].sha256 == atts[1].sha256  # same bytes, one blob
    blob_files = [p for p in (app.settings.data_dir / "blobs").rglob("*") if p.is_file()]
    assert len(blob_files) == 1
    assert app.blobs.read(atts[0].blob_key) == jpeg_bytes()


def test_bad_lines_are_reported_and_good_lines_kept(app, tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "ok.jpg").write_bytes(jpeg_bytes())
    outside = tmp_path.parent / f"outside-{os.getpid()}.jpg"
    outside.write_bytes(jpeg_bytes())
    (tmp_path / "files" / "link.jpg").symlink_to(outside)
    path = write_export(tmp_path, BASE + [
        b"{not json",                                                   # line 4
        {"type": "refund", "id": "r"},                                  # line 5
        msg("m-1", conv="c-404"),                                       # line 6: dangling
        msg("m-2", attachments=[{"path": "files/ok.jpg"}, {"path": "files/missing.jpg"}]),  # 7
        msg("m-3", attachments=[{"path": "files/link.jpg"}]),           # line 8: symlink escape
        msg("m-4", sender="u-3"),                                       # line 9: unknown sender
        msg("m-5", "fine"),                                             # line 10
        b'\xff\xfe\x00',                                                # line 11
    ])
    report, _ = run_import(app, path)
    errors = {e.line_no: e.error for e in report.errors}
    assert set(errors) == {4, 5, 6, 7, 8, 9, 11}
    assert "malformed JSON" in errors[4]
    assert "unknown type" in errors[5]
    assert "c-404" in errors[6]
    assert "missing.jpg" in errors[7] and "does not exist" in errors[7]
    assert "leaves the import folder" in errors[8]
    assert "UTF-8" in errors[11]
    assert report.counts["created"] == 4
    # The message whose second attachment failed landed not at all, not half.
    assert count(app, Message) == 1
    assert count(app, Attachment) == 0
    outside.unlink()


def test_changed_user_is_updated_and_message_conflict_is_refused(app, tmp_path):
    run_import(app, write_export(tmp_path, BASE + [msg("m-1", "original")]))
    changed = [dict(BASE[0], name="Renamed"), msg("m-1", "edited")]
    report, _ = run_import(app, write_export(tmp_path, changed))
    assert report.counts == {"updated": 1, "error": 1}
    assert "immutable" in report.errors[0].error
    with app.session_factory() as s:
        assert s.scalar(select(User.name).where(User.external_id == "u-1")) == "Renamed"
        assert s.scalar(select(Message.body)) == "original"


def test_conversation_cannot_change_participants(app, tmp_path):
    run_import(app, write_export(tmp_path, BASE))
    other = [{"type": "user", "id": "u-9", "name": "Other"},
             {"type": "conversation", "id": "c-1", "buyer": "u-9", "seller": "u-2"}]
    report, _ = run_import(app, write_export(tmp_path, other))
    assert "other participants" in report.errors[0].error
    assert count(app, Conversation) == 1


def test_oversized_attachment_is_rejected(app, tmp_path):
    (tmp_path / "big.bin").write_bytes(b"\0" * 2048)
    path = write_export(tmp_path, BASE + [msg("m-1", attachments=[{"path": "big.bin"}])])
    importer = InterchangeImporter(app.session_factory, app.blobs, tmp_path, max_attachment_bytes=1024)
    outcomes = list(importer.import_lines(path.open("rb")))
    assert outcomes[-1].status == "error" and "larger than 1024" in outcomes[-1].error
    assert count(app, Message) == 0


def test_doorbell_rings_only_after_commit(app, tmp_path):
    """Whoever is told about new messages can already read them from another session."""
    seen: list[list[str]] = []

    def on_commit(ids):
        with app.session_factory() as other:
            seen.append(list(other.scalars(select(Message.external_id).where(Message.id.in_(ids)))))

    path = write_export(tmp_path, BASE + [msg("m-1"), msg("m-2"), msg("m-3"), msg("m-4")])
    importer = InterchangeImporter(app.session_factory, app.blobs, tmp_path, batch_size=4)
    list(importer.import_lines(path.open("rb"), on_commit=on_commit))
    assert seen == [["m-1"], ["m-2", "m-3", "m-4"]]



def test_batches_grow_from_the_first_size_to_the_largest(app, tmp_path):
    """A small first batch (its parsing is not overlapped), each next one BATCH_GROWTH (8) times larger, then capped."""
    committed: list[list[int]] = []
    messages = [msg(f"m-{i}") for i in range(1, 15)]
    path = write_export(tmp_path, BASE + messages)
    importer = InterchangeImporter(app.session_factory, app.blobs, tmp_path, batch_size=6, first_batch_size=2)
    outcomes = list(importer.import_lines(path.open("rb"), on_commit=committed.append))
    assert [o.status for o in outcomes] == ["created"] * 17
    # Records per batch: 2 (users), 6 (the conversation and m-1..m-5), 6, 3: one commit each with messages.
    assert [len(ids) for ids in committed] == [5, 6, 3]

def test_api_ingest_applies_a_run_of_messages_together_with_the_one_by_one_outcomes(app):
    """usecases.importing.ingest: consecutive messages share a few statements; outcomes and rows as one by one."""
    from datetime import UTC, datetime

    from storage.models import ConversationRead
    from usecases.importing import ingest

    now = datetime(2026, 12, 1, tzinfo=UTC)
    later = {**msg("m-3", "later", sender="u-2"), "sent_at": "2026-11-26T09:00:00+01:00"}
    first = ingest(app, BASE + [msg("m-1"), msg("m-2", "reply", sender="u-2"), later], now)
    assert [o.status for o in first] == ["created"] * 6
    records = [
        msg("m-1"),                                   # unchanged
        msg("m-2", "edited", sender="u-2"),           # conflict
        msg("m-4", "new one"),                        # created
        msg("m-5", conv="c-none"),                    # unknown conversation
        msg("m-6", sender="u-9"),                     # unknown sender
        {"type": "user", "id": "u-3", "name": "Other"},
        msg("m-7", sender="u-3"),                     # not a participant
        {"type": "message", "id": "m-8"},             # invalid
        msg("m-9", attachments=[{"sha256": "0" * 64, "name": "x.jpg"}]),  # never uploaded
        msg("m-10", "back dated", sender="u-2"),      # created; reads never move backwards
    ]
    outcomes = ingest(app, records, now)
    assert [(o.status, o.problem) for o in outcomes] == [
        ("unchanged", None), ("error", "conflict"), ("created", None), ("error", "rejected"), ("error", "rejected"),
        ("created", None), ("error", "rejected"), ("error", "invalid"), ("error", "rejected"), ("created", None)]
    assert "c-none" in outcomes[3].error and "sender 'u-9'" in outcomes[4].error
    assert "not a participant" in outcomes[6].error and "immutable" in outcomes[1].error
    assert [o.external_id for o in outcomes[:3]] == ["m-1", "m-2", "m-4"]
    # A run repeating an id is applied one by one: the second copy is unchanged, a changed copy a conflict.
    repeated = ingest(app, [msg("m-11"), msg("m-11"), msg("m-11", "other")], now)
    assert [(o.status, o.problem) for o in repeated] == [("created", None), ("unchanged", None), ("error", "conflict")]
    assert count(app, Message) == 6
    with app.session_factory() as s:
        reads = {(r.user_id, r.last_read_at) for r in s.scalars(select(ConversationRead))}
        seller = s.scalar(select(User.id).where(User.external_id == "u-2"))
    assert (seller, datetime(2026, 11, 26, 8, 0, tzinfo=UTC)) in reads  # m-3's time, not m-10's earlier one
