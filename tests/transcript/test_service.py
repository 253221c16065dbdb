"""Transcript requests end to end on the database: render, record, reuse, actor, CLI."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import select

from actors.transcripts import render_transcript
from storage.db import transaction
from storage.models import Attachment, ContactFinding, Conversation, Message, TranscriptRequest, User
from storage.transcripts import ConversationNotFound, load_transcript_conversation
from tests.transcript.factories import NOW, START, jpeg
from usecases.transcripts import create_request, fulfil_request, request_transcript

PEERGUARD = str(Path(sys.executable).parent / "peerguard")


def _seed(context, extra_messages: int = 0) -> int:
    photo = jpeg(1200, 900)
    key, size = context.blobs.put_stream(io.BytesIO(photo), 10_000_000)
    with transaction(context.session_factory) as session:
        buyer = User(external_id="u-bea", name="Bea Buyer", timezone="Europe/Paris")
        seller = User(external_id="u-sam", name="Sam Seller", timezone="America/New_York")
        conversation = Conversation(external_id="conv-77", buyer=buyer, seller=seller, subject="Krugerrand",
                                    order_ref="ORD-77")
        session.add(conversation)
        bodies = ["Is it still for sale?", "Yes. Text me at 555-0100 instead", "Photo attached"]
        bodies += [f"Follow-up {i}" for i in range(extra_messages)]
        messages = [
            Message(external_id=f"m-{i}", conversation=conversation, sender=seller if i % 2 else buyer, body=body,
                    sent_at=START + timedelta(minutes=30 * i), recorded_at=START + timedelta(minutes=30 * i))
            for i, body in enumerate(bodies)
        ]
        session.add_all(messages)
        messages[2].attachments.append(Attachment(position=0, original_name="coin.jpg", content_type="image/jpeg",
                                                  size=size, sha256=key, blob_key=key))
        session.flush()
        start = bodies[1].index("555-0100")
        session.add(ContactFinding(
            fingerprint="f" * 64, conversation_id=conversation.id, message_id=messages[1].id, scope="message",
            kind="phone", value="+15550100", match="555-0100", score=0.97, detector_version="test",
            spans=[{"message_id": messages[1].id, "start": start, "end": start + 8}],
            message_ids=[messages[1].id], found_at=NOW))
        return conversation.id


def test_conversation_loads_with_roles_attachments_and_findings(app) -> None:
    conversation_id = _seed(app)
    with app.session_factory() as session:
        conversation = load_transcript_conversation(session, conversation_id)
    assert [m.sender_role.value for m in conversation.messages] == ["buyer", "seller", "buyer"]
    assert conversation.messages[1].findings[0].match_text == "555-0100"
    assert conversation.messages[2].attachments[0].original_name == "coin.jpg"
    assert conversation.seller.timezone == "America/New_York"


def test_request_renders_records_and_reuses(app) -> None:
    _seed(app)
    first = fulfil_request(app, create_request(app, "conv-77", "staff:ann", NOW), NOW)
    assert first.status == "done" and not first.reused
    data = first.pdf_path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == first.pdf_sha256 and first.size_bytes == len(data)
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert "Moderation finding: phone" in text and first.chain_head in text.replace("\n", "")
    second = fulfil_request(app, create_request(app, "conv-77", "staff:ann", NOW + timedelta(hours=1)), NOW)
    assert second.reused and second.pdf_path == first.pdf_path
    # The requester is printed on page 1, so another person's request gets its own PDF.
    third = fulfil_request(app, create_request(app, "conv-77", "staff:bob", NOW + timedelta(hours=1)), NOW)
    assert not third.reused and third.pdf_path != first.pdf_path
    assert "Requested by staff:bob" in pypdf.PdfReader(third.pdf_path).pages[0].extract_text()
    with app.session_factory() as session:
        rows = session.query(TranscriptRequest).order_by(TranscriptRequest.id).all()
    assert [r.requested_by for r in rows] == ["staff:ann", "staff:ann", "staff:bob"] and rows[1].reused_from_id == rows[0].id


def test_changed_conversation_is_rendered_again(app) -> None:
    conversation_id = _seed(app)
    first = fulfil_request(app, create_request(app, "conv-77", "staff:ann", NOW), NOW)
    with transaction(app.session_factory) as session:
        sender = session.get(Conversation, conversation_id).buyer
        session.add(Message(external_id="m-new", conversation_id=conversation_id, sender=sender, body="One more",
                            sent_at=NOW, recorded_at=NOW))
    second = fulfil_request(app, create_request(app, "conv-77", "staff:ann", NOW), NOW)
    assert not second.reused and second.chain_head != first.chain_head


def test_fulfilling_twice_is_a_no_op(app) -> None:
    _seed(app)
    request_id = create_request(app, "conv-77", "staff:ann", NOW)
    first = fulfil_request(app, request_id, NOW)
    assert fulfil_request(app, request_id, NOW) == first


def test_unknown_conversation_is_refused(app) -> None:
    with pytest.raises(ConversationNotFound):
        create_request(app, "nope", "staff:ann", NOW)


def test_actor_renders_on_its_own_queue_with_json_safe_arguments(app, stub_broker, stub_worker) -> None:
    _seed(app)
    assert render_transcript.queue_name == "transcripts"
    assert json.loads(json.dumps(list(render_transcript.message(7).args))) == [7]
    request_id = request_transcript(app, "conv-77", "staff:ann", NOW)
    stub_broker.join("transcripts", timeout=120_000)
    stub_worker.join()
    with app.session_factory() as session:
        assert session.get(TranscriptRequest, request_id).status == "done"


@pytest.fixture
def cli_env(settings, tmp_path: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({"PEERGUARD_DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url})
    return env


def test_cli_writes_the_pdf_and_refuses_unknown_conversations(app, cli_env, tmp_path: Path) -> None:
    _seed(app)
    target = tmp_path / "t.pdf"
    done = subprocess.run([PEERGUARD, "transcript", "conv-77", "-o", str(target), "--evidence", "--around", "m-0"],
                          capture_output=True, text=True, env=cli_env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes().startswith(b"%PDF") and "rendered" in done.stdout
    missing = subprocess.run([PEERGUARD, "transcript", "no-such-conv", "-o", str(tmp_path / "x.pdf")],
                             capture_output=True, text=True, env=cli_env, timeout=300)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == ["Error: unknown conversation: no-such-conv"]
    assert not (tmp_path / "x.pdf").exists()


def test_cli_finds_the_conversation_by_order(app, cli_env, tmp_path: Path) -> None:
    _seed(app)
    target = tmp_path / "by-order.pdf"
    done = subprocess.run([PEERGUARD, "transcript", "--order", "ORD-77", "-o", str(target)],
                          capture_output=True, text=True, env=cli_env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes().startswith(b"%PDF")
    assert "conversation conv-77," in done.stdout
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(target).pages)
    assert "ORD-77" in text and "conv-77" in text and "u-bea" in text and "m-2" in text
    _assert_only_marketplace_ids(app, done.stdout + text)


def test_cli_refuses_unknown_orders_and_bad_usage(app, cli_env, tmp_path: Path) -> None:
    _seed(app)
    target = tmp_path / "x.pdf"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([PEERGUARD, "transcript", *args, "-o", str(target)],
                              capture_output=True, text=True, env=cli_env, timeout=300)

    unknown = run("--order", "ORD-404")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == ["Error: unknown order: ORD-404"]
    for usage in (run(), run("conv-77", "--order", "ORD-77")):
        assert usage.returncode == 2
        assert "Error: give exactly one of CONVERSATION_ID or --order ORDER_ID" in usage.stderr
        assert "Usage:" in usage.stderr and "Traceback" not in usage.stderr
    assert not target.exists()


def test_order_shared_by_two_conversations_is_refused_with_both_ids(app, cli_env, tmp_path: Path) -> None:
    _seed(app)
    with transaction(app.session_factory) as session:
        first = session.scalar(select(Conversation).where(Conversation.external_id == "conv-77"))
        session.add(Conversation(external_id="conv-78", buyer_id=first.buyer_id, seller_id=first.seller_id,
                                 order_ref="ORD-77"))
    shared = subprocess.run([PEERGUARD, "transcript", "--order", "ORD-77", "-o", str(tmp_path / "x.pdf")],
                            capture_output=True, text=True, env=cli_env, timeout=300)
    assert shared.returncode == 2
    assert "order ORD-77 has several conversations (conv-77, conv-78)" in shared.stderr


def _assert_only_marketplace_ids(app, output: str) -> None:
    """No internal row id is printed as an id: every labelled id is one the marketplace issued."""
    with app.session_factory() as session:
        internal = {str(i) for model in (Conversation, Message, User) for i in session.scalars(select(model.id))}
    # PeerGuard's own request number is the one internal number the CLI may print.
    output = re.sub(r"request \d+", "request", output)
    labelled = re.findall(r"(?:conversation|message|user|buyer|seller|id)[ :#(]+([^\s,()]+)", output, flags=re.IGNORECASE)
    assert labelled and not [token for token in labelled if token in internal]
