"""MIME messages: multipart text+HTML with our headers, built with the standard library.

``EmailMessage`` and ``Address`` refuse CR/LF in any header and quote display names, so
user-supplied names cannot inject headers.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from typing import Any

from pipeline.addresses import parse_address
from pipeline.notices.identity import MailIdentity, safe_display_name
from pipeline.notices.rendering import RenderedEmail
from pipeline.responses import as_utc

NOTICE_HEADER = "X-PeerGuard-Notice"
UNSUBSCRIBE_NOTICES = frozenset({"response-reminder", "response-final-warning", "new-message", "new-message-digest"})


@lru_cache(maxsize=16)
def _from_address(name: str, address: str) -> Address:
    # Checked once per process: parsing the same From address for every email cost as much as
    # rendering its templates. Address objects are immutable.
    return Address(name, addr_spec=address)


# Display-name characters that are safe as they are: atext plus space, and never "=?".
_PLAIN_NAME = re.compile(r"[A-Za-z0-9 !#$%&'*+\-/^_`{|}~]+")
_EW_BYTES = 45  # 45 bytes -> 60 base64 characters -> a 72-character encoded word (limit 75)


def recipient_header(name: str | None, addr_spec: str) -> str:
    """The To header value, with the display name encoded by us (RFC 2047 base64) unless plainly safe.

    A name is user-controlled: it is never passed through as something a mail reader might
    decode (an encoded word) or parse (quotes, angle brackets, commas). Decoding our encoded
    words gives back the exact text, encoded words included, as a display name only.
    """
    display = safe_display_name(name)
    if not display:
        return addr_spec
    if _PLAIN_NAME.fullmatch(display) and "=?" not in display:
        return f"{display} <{addr_spec}>"
    return f"{' '.join(_encoded_words(display))} <{addr_spec}>"


def _encoded_words(text: str) -> list[str]:
    words, chunk = [], b""
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _EW_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(word).decode('ascii')}?=" for word in words]


def message_id_for(idempotency_key: str, domain: str) -> str:
    """A Message-ID derived from the outbox key, so a resend of the same notice is recognisable."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def thread_id_for(conversation_external_id: str, domain: str) -> str:
    """A stable per-conversation id (``<conversation-c-9@peermetals.com>``) that threads its emails."""
    # The marketplace's id goes in as is when it is a plain token; anything else is hashed so the
    # header stays a valid msg-id.
    plain = conversation_external_id.replace("-", "").replace("_", "").replace(".", "")
    if not (plain.isascii() and plain.isalnum() and len(conversation_external_id) <= 64):
        conversation_external_id = hashlib.sha256(conversation_external_id.encode()).hexdigest()[:32]
    return f"<conversation-{conversation_external_id}@{domain}>"


@dataclass(frozen=True)
class OutgoingNotice:
    """Everything needed to build one message, independent of storage."""

    notice: str
    recipient_address: str
    recipient_name: str
    idempotency_key: str
    rendered: RenderedEmail
    unsubscribe_url: str | None = None
    unsubscribe_mailto: str | None = None
    thread: str | None = None
    """The conversation's external id when the email belongs to its thread (In-Reply-To/References)."""


class _FoldCache:
    """Mixin for header classes: remember a header's folded form per folding policy.

    A header object is immutable (a ``str`` with its parse tree), and ``BaseHeader.fold`` reads
    only the policy's line length, ``utf8`` flag and line separator, so the folded text is cached
    under exactly those. Headers shared by every message (From, MIME-Version, the parts'
    Content-Type and Content-Transfer-Encoding, the notice header) then fold once per process
    instead of once per email; folding was the largest part of serialising a message.
    """

    def fold(self, *, policy: Any) -> str:
        key = (policy.max_line_length, policy.utf8, policy.linesep)
        folds = self.__dict__.setdefault("_folds", {})
        folded = folds.get(key)
        if folded is None:
            folded = single_line_fold(self, policy)
            if folded is None:
                folded = super().fold(policy=policy)  # type: ignore[misc]
            folds[key] = folded
        return folded


def single_line_fold(header: Any, policy: Any) -> str | None:
    """The stock fold of a header that fits on one line as plain ASCII, or None.

    ``BaseHeader.fold`` runs ``_refold_parse_tree`` over ``Name:``, one space and the parse tree;
    a part that is ASCII and fits in the rest of the line is appended as its text, unchanged, so
    for such a header the result is ``Name: <text of the parse tree><linesep>``. Finding that out
    by walking the tree was most of the cost of the headers that differ per email (To, Subject,
    Date, Message-ID). Anything else (non-ASCII, too long, empty) returns None and takes the stock
    path; ``tests/responses/test_notices.py`` checks both agree on generated headers.

    This reads the email package's private ``_parse_tree``. It stays because the benchmark says
    it pays: without it, rendering, building and serialising one notice took 1.34-1.5 ms instead
    of 1.0-1.25 ms, and ``bench/dispatch_bench.py --emails 1500 --rounds 2`` fell from 265 to 223
    emails/s with 4 dispatchers (2026-12-06, same noisy 2-core machine, same run).
    """
    tree = getattr(header, "_parse_tree", None)
    if not tree or getattr(tree, "token_type", "ptext") == "ptext":
        return None
    text = str(tree)
    line = f"{header.name}: {text}"
    maxlen = policy.max_line_length or sys.maxsize
    if not line.isascii() or len(line) > maxlen or "\r" in line or "\n" in line:
        return None
    return line + policy.linesep


class _CachingHeaderRegistry(HeaderRegistry):
    """The standard header registry with its hot paths cached.

    The stock registry builds a new header class on every lookup and re-parses values such as
    ``MIME-Version: 1.0`` or our From address for every message; both results are immutable, so
    caching them is safe and roughly halves the cost of building a message. Values still go
    through the policy's CR/LF check before they reach this factory. A single ``Address`` is
    looked up by its string form: the stock factory parses exactly ``str(address)`` for it too.
    Header classes fold through ``_FoldCache``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}
        self._parsed = lru_cache(maxsize=2048)(super().__call__)

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        if key not in self._classes:
            base = super().__getitem__(name)
            self._classes[key] = type(base.__name__, (_FoldCache, base), {})
        return self._classes[key]

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, Address):
            value = str(value)
        if isinstance(value, str):
            return self._parsed(name, value)
        return super().__call__(name, value)


MESSAGE_POLICY = email_policy.default.clone(header_factory=_CachingHeaderRegistry())
# Serialising with a longer header line limit keeps List-Unsubscribe's URLs as plain ASCII: at
# the default 78 a URL that does not fit on one line is RFC 2047-encoded, which mail clients do
# not parse as a List-Unsubscribe. 998 is RFC 5322's hard limit; bodies are encoded at build time
# with the default policy, so only header folding changes.
SENDING_POLICY = MESSAGE_POLICY.clone(max_line_length=998)


def build_message(item: OutgoingNotice, identity: MailIdentity, sent_at: datetime) -> EmailMessage:
    """Build the multipart text+HTML message with our headers; raise InvalidAddress on bad input."""
    recipient = parse_address(item.recipient_address)
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["From"] = _from_address(identity.from_name, identity.from_address)
    # Stored verbatim: the header classes would decode an encoded word in the name and write the
    # decoded text back out raw, where a reader decodes it again (a name made of an encoded
    # "Eve <attacker@evil.com>," became a second recipient). See recipient_header.
    message.set_raw("To", recipient_header(item.recipient_name, recipient.addr_spec))
    message["Subject"] = item.rendered.subject
    message["Date"] = format_datetime(as_utc(sent_at))
    message["Message-ID"] = message_id_for(item.idempotency_key, identity.platform_domain)
    message[NOTICE_HEADER] = item.notice
    if item.thread:
        # Message-ID stays per email; every email of a conversation replies to one stable id.
        message["In-Reply-To"] = message["References"] = thread_id_for(item.thread, identity.platform_domain)
    _add_unsubscribe_headers(message, item)
    message.set_content(item.rendered.text)
    message.add_alternative(item.rendered.html, subtype="html")
    _set_boundary(message)
    message.policy = SENDING_POLICY
    return message


# One MIME boundary per process, in the generator's own format, drawn from the OS's randomness.
# Left unset, the generator draws a new one per message, compiles a regular expression to check
# it against the bodies and re-parses Content-Type: an eighth of the dispatcher's time. A fixed
# value makes that header identical in every message (parsed and folded once, see above).
_BOUNDARY = "=" * 15 + f"{secrets.randbelow(sys.maxsize):019d}" + "=="


def _set_boundary(message: EmailMessage) -> None:
    # Safety first: the boundary is visible to every recipient, so a body could quote it. If any
    # encoded part contains it anywhere (stricter than the generator's own check, which only
    # looks for it as a whole delimiter line), the message keeps no preset boundary and the
    # generator picks a fresh, checked one exactly as before.
    if any(_BOUNDARY in str(part.get_payload()) for part in message.iter_parts()):
        return
    message.set_boundary(_BOUNDARY)


def _add_unsubscribe_headers(message: EmailMessage, item: OutgoingNotice) -> None:
    # RFC 8058 one-click needs an https URI plus the List-Unsubscribe-Post header; the mailto
    # is a fallback for clients that do not do one-click.
    if item.notice not in UNSUBSCRIBE_NOTICES:
        return
    links = [f"<{link}>" for link in (item.unsubscribe_url, item.unsubscribe_mailto) if link]
    if not links:
        return
    message["List-Unsubscribe"] = ", ".join(links)
    if item.unsubscribe_url:
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
