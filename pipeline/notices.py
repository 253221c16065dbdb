"""Notification emails: one small context function per notice, one renderer, one message builder.

Each notice has a template folder ``templates/email/<name>/{subject.txt,body.txt,body.html}``.
Contexts hold only JSON-safe values so they can sit in the outbox and be rendered at send time.
Messages are built with the standard library's ``EmailMessage`` and ``Address``, which refuse
CR/LF in any header and quote display names, so user-supplied names cannot inject headers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from pipeline.addresses import parse_address
from pipeline.responses import as_utc

NOTICE_HEADER = "X-PeerGuard-Notice"
UNSUBSCRIBE_NOTICES = frozenset({"response-reminder", "response-final-warning"})
KNOWN_NOTICES = frozenset(
    {
        "response-reminder",
        "response-final-warning",
        "response-breach",
        "policy-warning",
        "repeat-offender",
        "suspension-recommended",
        "flag-alert",
    }
)


@dataclass(frozen=True)
class RenderedEmail:
    """A notice rendered to its subject, plain text and HTML bodies."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class MailIdentity:
    """Who the notices come from and which domain hosts links and Message-IDs."""

    from_address: str
    from_name: str
    platform_domain: str
    unsubscribe_secret: str


# --- Contexts (one small function per notice) ------------------------------------------------


def conversation_url(domain: str, conversation_id: int) -> str:
    """The link to a conversation in the PeerMetals inbox."""
    return f"https://{domain}/messages/{conversation_id}"


@lru_cache(maxsize=65536)
def unsubscribe_token(secret: str, seller_id: int) -> str:
    """An HMAC token that proves an unsubscribe request came from our link."""
    digest = hmac.new(secret.encode(), f"unsubscribe:{seller_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def verify_unsubscribe_token(secret: str, seller_id: int, token: str) -> bool:
    """Constant-time check of an unsubscribe token."""
    return hmac.compare_digest(unsubscribe_token(secret, seller_id), token)


def unsubscribe_links(identity: MailIdentity, seller_id: int) -> dict[str, str]:
    """The RFC 8058 one-click URL and the mailto fallback for a seller's reminders."""
    token = unsubscribe_token(identity.unsubscribe_secret, seller_id)
    domain = identity.platform_domain
    return {
        "unsubscribe_url": f"https://{domain}/email/unsubscribe/{seller_id}/{token}",
        "unsubscribe_mailto": f"mailto:unsubscribe@{domain}?subject=unsubscribe-{seller_id}-{token}",
    }


def _local(moment: datetime, zone: ZoneInfo) -> str:
    """``YYYY-MM-DD HH:MM ZONE`` in the seller's zone.

    Spelled out rather than ``strftime``: the due-sweep formats two of these per notice, and
    ``strftime`` was a tenth of the sweep's time.
    """
    t = as_utc(moment).astimezone(zone)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d} {t.tzname()}"


@dataclass(frozen=True)
class ResponseNoticeFacts:
    """The facts of one obligation stage that the response notices mention."""

    seller_id: int
    seller_name: str
    conversation_id: int
    started_at: datetime
    stage_due_at: datetime
    deadline: datetime
    zone: ZoneInfo


def _response_context(identity: MailIdentity, facts: ResponseNoticeFacts) -> dict[str, Any]:
    return {
        "seller_name": safe_display_name(facts.seller_name) or "there",
        "conversation_url": conversation_url(identity.platform_domain, facts.conversation_id),
        "waiting_since": _local(facts.started_at, facts.zone),
        "deadline": _local(facts.deadline, facts.zone),
    }


def response_reminder(identity: MailIdentity, facts: ResponseNoticeFacts) -> dict[str, Any]:
    """Context of the 1-hour reminder."""
    return _response_context(identity, facts) | unsubscribe_links(identity, facts.seller_id)


def response_final_warning(identity: MailIdentity, facts: ResponseNoticeFacts) -> dict[str, Any]:
    """Context of the final warning, with the whole hours left before the limit."""
    seconds_left = (as_utc(facts.deadline) - as_utc(facts.stage_due_at)).total_seconds()
    return (
        _response_context(identity, facts)
        | unsubscribe_links(identity, facts.seller_id)
        | {"hours_left": max(0, round(seconds_left / 3600))}
    )


def response_breach(identity: MailIdentity, facts: ResponseNoticeFacts) -> dict[str, Any]:
    """Context of the breach notice; it carries no unsubscribe link because it is not optional."""
    return _response_context(identity, facts)


RESPONSE_CONTEXTS = {
    "response-reminder": response_reminder,
    "response-final-warning": response_final_warning,
    "response-breach": response_breach,
}


def policy_warning(user_name: str, strike_count: int, reason: str, policy_url: str) -> dict[str, Any]:
    """Context of the first-strike warning to a sender (issue 6)."""
    return {"user_name": user_name or "there", "strike_count": strike_count, "reason": reason, "policy_url": policy_url}


def repeat_offender(user_email: str, user_id: int, strike_count: int, review_url: str) -> dict[str, Any]:
    """Context of the staff alert for a third strike (issue 6)."""
    return {"user_email": user_email, "user_id": user_id, "strike_count": strike_count, "review_url": review_url}


def suspension_recommended(user_email: str, user_id: int, strike_count: int, review_url: str) -> dict[str, Any]:
    """Context of the staff alert for a fifth strike (issue 6)."""
    return {"user_email": user_email, "user_id": user_id, "strike_count": strike_count, "review_url": review_url}


def flag_alert(item_id: int, kind: str, sender_email: str, excerpt: str, review_url: str) -> dict[str, Any]:
    """Context of the staff alert for a high-severity review item (issue 6)."""
    return {"item_id": item_id, "kind": kind, "sender_email": sender_email, "excerpt": excerpt, "review_url": review_url}


# --- Rendering ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> Environment:
    # StrictUndefined turns a missing context key into an error at render time instead of an
    # email with a hole in it; autoescape applies to the HTML bodies only. Templates are read
    # once per process (no auto_reload): checking three files' mtimes per email cost more than
    # rendering them.
    return Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
    )


@lru_cache(maxsize=64)
def _notice_templates(templates_dir: Path, name: str) -> tuple[Template, Template, Template]:
    env = _environment(templates_dir / "email")
    return tuple(env.get_template(f"{name}/{part}") for part in ("subject.txt", "body.txt", "body.html"))  # type: ignore[return-value]


def render_notice(name: str, context: Mapping[str, Any], templates_dir: Path) -> RenderedEmail:
    """Render ``templates/email/<name>/`` with ``context``; unknown names raise KeyError."""
    if name not in KNOWN_NOTICES:
        raise KeyError(f"unknown notice {name!r}")
    subject, text, html = _notice_templates(Path(templates_dir), name)
    return RenderedEmail(
        subject=" ".join(subject.render(context).split()),
        text=text.render(context),
        html=html.render(context),
    )


# --- Message building --------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def safe_display_name(name: str | None) -> str:
    """A display name with control characters folded to spaces; Address quotes the rest."""
    if not name:
        return ""
    return " ".join("".join(c if c.isprintable() else " " for c in name).split())[:120]


@lru_cache(maxsize=16)
def _from_address(name: str, address: str) -> Address:
    # Checked once per process: parsing the same From address for every email cost as much as
    # rendering its templates. Address objects are immutable.
    return Address(name, addr_spec=address)


def message_id_for(idempotency_key: str, domain: str) -> str:
    """A Message-ID derived from the outbox key, so a resend of the same notice is recognisable."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


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
    message["To"] = Address(safe_display_name(item.recipient_name), recipient.username, recipient.domain)
    message["Subject"] = item.rendered.subject
    message["Date"] = format_datetime(as_utc(sent_at))
    message["Message-ID"] = message_id_for(item.idempotency_key, identity.platform_domain)
    message[NOTICE_HEADER] = item.notice
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
