"""The hash chain: documented canonical form, independent recomputation, edits detected."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from pipeline.transcript import chain_head, chain_links, verify_chain
from tests.transcript.factories import BlobShelf, conversation, jpeg, message


def _conversation():
    shelf = BlobShelf()
    photo = shelf.add(jpeg(40, 30), "coin.jpg", "image/jpeg")
    return conversation([
        message(0, "Hello, is it still available?"),
        message(1, "Yes — here is a photo 📷 שלום", attachments=[photo]),
        message(2, "<b>not bold</b>\n  spaces kept  "),
    ])


def _independent_head(conv) -> str:
    # Written from the docstring of pipeline.transcript.chain alone, as an outside verifier would.
    link = "0" * 64
    for m in conv.messages:
        canonical = json.dumps({
            "v": "peerguard-transcript-chain/1", "conversation": conv.external_id,
            "message": m.external_id, "role": m.sender_role.value, "sender": m.sender_name,
            "sent_at": m.sent_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "body": m.body,
            "attachments": [{"name": a.original_name, "content_type": a.content_type, "size": a.size,
                             "sha256": a.sha256} for a in m.attachments],
        }, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        link = hashlib.sha256(f"{link}\n{canonical}".encode()).hexdigest()
    return link


def test_head_matches_an_independent_implementation_of_the_documented_form() -> None:
    conv = _conversation()
    assert chain_head(conv) == _independent_head(conv)
    assert len(chain_links(conv)) == 3


def test_unchanged_conversation_verifies() -> None:
    conv = _conversation()
    assert verify_chain(conv, chain_head(conv)).ok


def test_editing_a_message_body_breaks_verification() -> None:
    conv = _conversation()
    head = chain_head(conv)
    edited = dataclasses.replace(conv.messages[1], body=conv.messages[1].body + ".")
    tampered = dataclasses.replace(conv, messages=(conv.messages[0], edited, conv.messages[2]))
    check = verify_chain(tampered, head)
    assert not check.ok and check.computed_head != head


def test_swapping_an_attachment_or_reordering_breaks_verification() -> None:
    conv = _conversation()
    head = chain_head(conv)
    attachment = dataclasses.replace(conv.messages[1].attachments[0], sha256="f" * 64)
    swapped = dataclasses.replace(conv.messages[1], attachments=(attachment,))
    assert not verify_chain(dataclasses.replace(conv, messages=(conv.messages[0], swapped, conv.messages[2])), head).ok
    assert not verify_chain(dataclasses.replace(conv, messages=conv.messages[::-1]), head).ok


def test_findings_do_not_change_the_chain() -> None:
    conv = _conversation()
    from tests.transcript.factories import finding

    body = conv.messages[0].body
    flagged = dataclasses.replace(conv.messages[0], findings=(finding(body, "available"),))
    assert chain_head(dataclasses.replace(conv, messages=(flagged, *conv.messages[1:]))) == chain_head(conv)
