"""Hash chain over a conversation's messages, so any later edit of the transcript is detectable.

Canonical form (version ``peerguard-transcript-chain/1``), verifiable with nothing but SHA-256
and a JSON encoder:

* ``link_0 = "0" * 64`` (64 ASCII zeros).
* For message *i* (1-based, in send order):
  ``link_i = hex(SHA-256(UTF-8(link_{i-1} + "\\n" + canonical_message_i)))``, lower-case hex.
* ``canonical_message_i`` is the JSON object below serialised with keys sorted, separators
  ``","`` and ``":"``, no insignificant whitespace and non-ASCII characters written as-is
  (Python: ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``)::

      {"v": "peerguard-transcript-chain/1",
       "conversation": <conversation external id>,
       "message": <message external id>,
       "role": "buyer" | "seller",
       "sender": <sender display name>,
       "sent_at": "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, always six fraction digits),
       "body": <body exactly as stored, no normalisation>,
       "attachments": [{"name": ..., "content_type": ..., "size": <int>,
                        "sha256": <lower-case hex>}, ...]   (in message order)}

* The chain head is ``link_n``; a conversation without messages has head ``"0" * 64``.

Moderation findings are deliberately left out: they are our annotations, re-computed when the
detectors improve, and must not make an unchanged conversation look altered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from pipeline.transcript.model import TranscriptConversation, TranscriptMessage

CHAIN_VERSION = "peerguard-transcript-chain/1"
GENESIS_LINK = "0" * 64


@dataclass(frozen=True)
class ChainCheck:
    """Outcome of checking a conversation against a printed chain head."""

    ok: bool
    computed_head: str
    expected_head: str
    message_count: int


def canonical_message(conversation_id: str, message: TranscriptMessage) -> str:
    """Return the canonical JSON text of one message, as hashed into the chain."""
    document = {
        "v": CHAIN_VERSION,
        "conversation": conversation_id,
        "message": message.external_id,
        "role": message.sender_role.value,
        "sender": message.sender_name,
        "sent_at": message.sent_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "body": message.body,
        "attachments": [
            {"name": a.original_name, "content_type": a.content_type, "size": a.size,
             "sha256": a.sha256.lower()}
            for a in message.attachments
        ],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def next_link(previous: str, canonical: str) -> str:
    """Return the link that follows ``previous`` for one canonical message."""
    return hashlib.sha256(f"{previous}\n{canonical}".encode("utf-8")).hexdigest()


def chain_links(conversation: TranscriptConversation) -> tuple[str, ...]:
    """Return the link after each message, in order; the last one is the chain head."""
    links: list[str] = []
    previous = GENESIS_LINK
    for message in conversation.messages:
        previous = next_link(previous, canonical_message(conversation.external_id, message))
        links.append(previous)
    return tuple(links)


def chain_head(conversation: TranscriptConversation) -> str:
    """Return the final chain value printed on page 1 of the transcript."""
    links = chain_links(conversation)
    return links[-1] if links else GENESIS_LINK


def verify_chain(conversation: TranscriptConversation, expected_head: str) -> ChainCheck:
    """Recompute the chain over ``conversation`` and compare it with a printed head."""
    computed = chain_head(conversation)
    return ChainCheck(
        ok=computed == expected_head.strip().lower(),
        computed_head=computed,
        expected_head=expected_head,
        message_count=len(conversation.messages),
    )
