"""The attachment_scan stage on SQLite and PostgreSQL: findings with file, page and region, review items,
unreadable files recorded with a reason, idempotent re-runs, and ``run --once`` running it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from storage.models import Attachment, AttachmentScan, ContactFinding, ReviewItem, ReviewSignal
from tests.attachments import files
from usecases.attachment_scanning import scan_pending
from usecases.importing import InterchangeImporter

NOW = datetime(2026, 12, 12, 12, 0, tzinfo=timezone.utc)


def load(app, tmp_path, attachments: dict[str, bytes], text: str = "photos attached") -> list[int]:
    for name, data in attachments.items():
        (tmp_path / name).write_bytes(data)
    lines = [
        {"type": "user", "id": "u-1", "name": "Buyer"},
        {"type": "user", "id": "u-2", "name": "Seller"},
        {"type": "conversation", "id": "c-1", "buyer": "u-1", "seller": "u-2"},
        {"type": "message", "id": "m-1", "conversation": "c-1", "sender": "u-2", "sent_at": (NOW - timedelta(hours=1)).isoformat(),
         "text": text, "attachments": [{"path": name, "name": name} for name in attachments]},
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    ids: list[int] = []
    list(InterchangeImporter(app.session_factory, app.blobs, tmp_path).import_lines(path.open("rb"), ids.extend))
    return ids


def test_attachment_findings_enter_the_review_queue_with_their_region(app, tmp_path):
    card = files.text_image(["Silver Eagle 2024", "text me 602 555 0148"])
    broken = files.text_image(["whatever"])[:400]
    [message_id] = load(app, tmp_path, {"card.jpg": card, "broken.jpg": broken, "coin.png": files.qr_image("https://peermetals.com/l/9")})

    counts = scan_pending(app, NOW)
    assert {k: counts[k] for k in ("attachments", "unreadable", "review_items")} == {"attachments": 3, "unreadable": 1, "review_items": 1}

    with app.session_factory() as s:
        found = s.scalars(select(ContactFinding)).all()
        assert len(found) == counts["findings"] and {f.kind for f in found} <= {"phone", "intent"}
        finding = next(f for f in found if f.kind == "phone")
        card_sha = s.scalar(select(Attachment.sha256).where(Attachment.original_name == "card.jpg"))
        assert (finding.scope, finding.kind, finding.value) == ("attachment", "phone", "+16025550148")
        assert (finding.message_id, finding.message_ids, finding.attachment_sha256, finding.page) == (message_id, [message_id], card_sha, 0)
        left, top, right, bottom = finding.region
        assert 100 < top < bottom < 260 and left < right
        item = s.scalars(select(ReviewItem)).one()
        assert (item.status, item.kind, item.message_id) == ("pending", "phone", message_id)
        assert finding.id in set(s.scalars(select(ReviewSignal.finding_id)))
        outcomes = {a.original_name: (o.status, o.method, o.findings, o.reason) for o, a in
                    s.execute(select(AttachmentScan, Attachment).join(Attachment, Attachment.id == AttachmentScan.attachment_id))}
    assert outcomes["card.jpg"] == ("scanned", "image", len(found), None)
    assert outcomes["coin.png"] == ("scanned", "image", 0, None)
    assert outcomes["broken.jpg"][0] == "unreadable" and "truncated" in outcomes["broken.jpg"][3].lower()


def test_rerunning_reads_nothing_twice(app, tmp_path):
    load(app, tmp_path, {"card.jpg": files.text_image(["zelle jo.silver@gmail.com"])})
    first = scan_pending(app, NOW)
    assert first["attachments"] == 1 and first["findings"] >= 1
    assert scan_pending(app, NOW) == {"attachments": 0, "unreadable": 0, "findings": 0, "review_items": 0}
    with app.session_factory() as s:
        assert s.scalar(select(AttachmentScan.findings)) == first["findings"]


def test_run_once_runs_the_attachment_stage(app, tmp_path):
    from actors.stages import run_once

    load(app, tmp_path, {"note.png": files.text_image(["WhatsApp +44 7700 900123"], fmt="PNG")})
    results = run_once(app, NOW)
    assert results["attachment_scan"]["attachments"] == 1
    assert results["attachment_scan"]["findings"] >= 1
    with app.session_factory() as s:
        kinds = set(s.scalars(select(ContactFinding.kind).where(ContactFinding.scope == "attachment")))
    assert "phone" in kinds


def test_the_actor_round_trips_through_json_and_scans(app, tmp_path, stub_broker, stub_worker):
    from actors.attachment_scanning import QUEUE, scan_attachments

    load(app, tmp_path, {"card.jpg": files.text_image(["call me 602 555 0148"])})
    message = scan_attachments.send()
    assert message.queue_name == QUEUE == "attachment_scan"
    assert json.loads(json.dumps(message.asdict()))["args"] == []
    stub_broker.join(QUEUE, timeout=60_000)
    stub_worker.join()
    with app.session_factory() as s:
        assert s.scalar(select(AttachmentScan.status)) == "scanned"
        assert "phone" in set(s.scalars(select(ContactFinding.kind)))


def test_review_item_of_an_attachment_finding_shows_and_resolves(app, tmp_path):
    from usecases import review

    [message_id] = load(app, tmp_path, {"card.jpg": files.text_image(["call me 602 555 0148"])})
    scan_pending(app, NOW)
    with app.session_factory() as s:
        item_id = s.scalar(select(ReviewItem.id))
        detail = review.show_item(s, item_id, NOW)
    assert "phone" in {signal["kind"] for signal in detail.signals}
    assert [m.flagged for m in detail.messages] == [True]
    with app.session_factory() as s:
        entries = review.list_queue(s, NOW)
    assert [e.id for e in entries] == [item_id]


def test_console_item_page_names_the_attachment_page_and_region(app, tmp_path):
    from usecases import console, staff
    from usecases.staff import Staff

    load(app, tmp_path, {"card.jpg": files.text_image(["call me 602 555 0148"])})
    scan_pending(app, NOW)
    with app.session_factory.begin() as s:
        staff.add_account(s, "ana@peermetals.com", "moderator", NOW, password="correct horse battery staple")
    ana = staff.sign_in(app, "ana@peermetals.com", "correct horse battery staple", "10.0.0.1", NOW)[1]
    assert isinstance(ana, Staff)
    with app.session_factory() as s:
        item_id = s.scalar(select(ReviewItem.id))
        finding = s.scalars(select(ContactFinding).where(ContactFinding.kind == "phone")).one()
    page = console.item_page(app, ana, item_id, NOW)
    phone = next(signal for signal in page.signals if signal["kind"] == "phone")
    assert (phone["attachment"].name, phone["attachment"].page, phone["attachment"].region) == ("card.jpg", 0, finding.region)


def test_a_spent_time_budget_starts_no_new_file_and_the_next_run_goes_on(app, tmp_path):
    load(app, tmp_path, {"a.jpg": files.text_image(["call me 602 555 0148"]), "b.png": files.qr_image("tel:+16025550148")})
    assert scan_pending(app, NOW, stop_after=0)["attachments"] == 0
    assert scan_pending(app, NOW)["attachments"] == 2


def test_the_transcript_appendix_outlines_the_photo_a_phone_number_was_read_in(app, tmp_path):
    import pypdf

    from usecases.transcripts import create_request, fulfil_request

    load(app, tmp_path, {"card.jpg": files.text_image(["call me 602 555 0148"]), "coin.png": files.qr_image("hello")})
    scan_pending(app, NOW)
    outcome = fulfil_request(app, create_request(app, "c-1", "staff:ana", NOW), NOW)
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(outcome.pdf_path).pages).replace("\x00", "")
    assert "Where contact details were read in photos" in text
    assert "m-1, card.jpg:" in text and "phone" in text.split("Where contact details were read in photos")[1]
    assert "coin.png:" not in text.split("Where contact details were read in photos")[1]  # nothing read in it
