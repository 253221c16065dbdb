"""Notice contexts: one small function per notice, JSON-safe values only (they wait in the outbox)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.detection.masking import MASKED_KINDS
from pipeline.notices.identity import MailIdentity, safe_display_name
from pipeline.notices.links import conversation_url, notification_unsubscribe_links, unsubscribe_links
from pipeline.responses import as_utc


def _local(moment: datetime, zone: ZoneInfo) -> str:
    """``YYYY-MM-DD HH:MM ZONE`` in the seller's zone.

    Spelled out rather than ``strftime``: the due-sweep formats two of these per notice, and
    ``strftime`` was a tenth of the sweep's time.
    """
    t = as_utc(moment).astimezone(zone)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d} {t.tzname()}"


QUOTE_WIDTH = 200
"""Characters of a waiting or flagged message quoted in an email (already masked)."""
LISTING_WIDTH = 120


def one_line(text: str | None, width: int) -> str:
    """``text`` on one line (control characters and runs of space folded), cut to ``width`` with an ellipsis."""
    if not text:
        return ""
    folded = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return folded if len(folded) <= width else folded[: width - 1].rstrip() + "…"


def quote(masked_body: str | None, width: int = QUOTE_WIDTH) -> str | None:
    """The quotable excerpt of a message's MASKED text; None when there is none to quote.

    Only the masked copy (written by the scanning stage) is ever quoted: a message not scanned
    yet has no masked copy, and its raw text is never put in an email.
    """
    if masked_body is None:
        return None
    return one_line(masked_body, width) or None


def redact(body: str, spans: Sequence[tuple[int, int, str]]) -> str:
    """``body`` with each (start, end, kind) span replaced by "[kind removed]"; overlaps merged.

    The same replacement the scanner writes into ``masked_body``; used where a message's stored
    masked copy does not cover a span (a contact detail split over several messages).
    """
    merged: list[list[Any]] = []
    for start, end, kind in sorted((max(0, s), min(len(body), e), k) for s, e, k in spans):
        if start >= end:
            continue
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, kind])
    pieces: list[str] = []
    cursor = 0
    for start, end, kind in merged:
        pieces += [body[cursor:start], f"[{kind} removed]"]
        cursor = end
    pieces.append(body[cursor:])
    return "".join(pieces)


@dataclass(frozen=True)
class ResponseNoticeFacts:
    """One conversation of a response notice: the obligation stage, who waits, on what (external ids only)."""

    seller_external_id: str
    seller_name: str
    conversation_external_id: str
    started_at: datetime
    stage_due_at: datetime
    deadline: datetime
    zone: ZoneInfo
    buyer_name: str = ""
    listing: str | None = None
    order_ref: str | None = None
    masked_text: str | None = None
    """The waiting message's masked copy (``messages.masked_body``), None while it is not scanned."""


def _conversation(identity: MailIdentity, facts: ResponseNoticeFacts) -> dict[str, Any]:
    seconds_left = (as_utc(facts.deadline) - as_utc(facts.stage_due_at)).total_seconds()
    return {
        "buyer_name": safe_display_name(facts.buyer_name) or "A buyer",
        "listing": one_line(facts.listing, LISTING_WIDTH) or f"conversation {facts.conversation_external_id}",
        "order": one_line(facts.order_ref, 64) or None,
        "conversation_id": facts.conversation_external_id,
        "conversation_url": conversation_url(identity.platform_domain, facts.conversation_external_id),
        "waiting_since": _local(facts.started_at, facts.zone),
        "deadline": _local(facts.deadline, facts.zone),
        "quote": quote(facts.masked_text),
        "hours_left": max(0, round(seconds_left / 3600)),
    }


def _response_context(identity: MailIdentity, group: Sequence[ResponseNoticeFacts]) -> dict[str, Any]:
    """One seller's conversations at one stage, oldest wait first: one email for all of them."""
    if not group:
        raise ValueError("a response notice needs at least one conversation")
    conversations = [_conversation(identity, facts) for facts in sorted(group, key=lambda f: (f.started_at, f.conversation_external_id))]
    return {
        "seller_name": safe_display_name(group[0].seller_name) or "there",
        "count": len(conversations),
        "conversations": conversations,
    }


def response_reminder(identity: MailIdentity, group: Sequence[ResponseNoticeFacts]) -> dict[str, Any]:
    """Context of the 1-hour reminder, for one or more conversations of one seller."""
    return _response_context(identity, group) | unsubscribe_links(identity, group[0].seller_external_id)


def response_final_warning(identity: MailIdentity, group: Sequence[ResponseNoticeFacts]) -> dict[str, Any]:
    """Context of the final warning, with the whole hours left before the earliest limit."""
    context = _response_context(identity, group) | unsubscribe_links(identity, group[0].seller_external_id)
    return context | {"hours_left": min(c["hours_left"] for c in context["conversations"])}


def response_breach(identity: MailIdentity, group: Sequence[ResponseNoticeFacts]) -> dict[str, Any]:
    """Context of the breach notice; it carries no unsubscribe link because it is not optional."""
    return _response_context(identity, group)


def without_conversations(context: Mapping[str, Any], conversation_ids: Collection[str]) -> dict[str, Any] | None:
    """A grouped response notice's context without these conversations (answered before it went out).

    None when no conversation is left. The group-level figures (count, hours left) follow.
    """
    left = [c for c in context["conversations"] if c["conversation_id"] not in conversation_ids]
    if not left:
        return None
    replanned = dict(context) | {"count": len(left), "conversations": left}
    if "hours_left" in context:
        replanned["hours_left"] = min(c["hours_left"] for c in left)
    return replanned


RESPONSE_CONTEXTS = {
    "response-reminder": response_reminder,
    "response-final-warning": response_final_warning,
    "response-breach": response_breach,
}


def _utc(moment: datetime) -> str:
    t = as_utc(moment)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d} UTC"


@dataclass(frozen=True)
class FlaggedQuote:
    """A message a decision was about, as an account notice shows it: masked, by the marketplace's ids."""

    conversation_external_id: str
    listing: str | None
    sent_at: datetime
    masked_text: str | None
    """Already masked text (None while the message is not scanned: then nothing is quoted)."""


def flagged_text(body: str, masked_body: str | None, spans: Sequence[tuple[int, int, str]],
                 split_spans: Sequence[tuple[int, int, str]]) -> str | None:
    """The masked text of a flagged message, or None when it is not scanned yet.

    Normally the scanner's masked copy. A contact detail split over several messages is found
    by a conversation-scope finding whose spans the per-message masked copy does not cover; then
    the text is masked again from the original with every finding's span on it. Spans of kinds
    the scanner leaves visible (intent phrases such as "text me") stay visible here too.
    """
    if masked_body is None:
        return None
    if not split_spans:
        return masked_body
    return redact(body, [span for span in spans if span[2] in MASKED_KINDS])


def _flagged(identity: MailIdentity, message: FlaggedQuote) -> dict[str, Any]:
    return {
        "listing": one_line(message.listing, LISTING_WIDTH) or f"conversation {message.conversation_external_id}",
        "conversation_url": conversation_url(identity.platform_domain, message.conversation_external_id),
        "sent_at": _utc(message.sent_at),
        "quote": quote(message.masked_text),
    }


def _policy_urls(identity: MailIdentity) -> dict[str, str]:
    policy_url = f"https://{identity.platform_domain}/help/messaging-policy"
    return {"policy_url": policy_url, "appeal_url": f"{policy_url}#appeals"}


def policy_warning(identity: MailIdentity, user_name: str, strike_count: int, reason: str, rule: str,
                   message: FlaggedQuote) -> dict[str, Any]:
    """Context of the first-strike warning to a sender: the rule, the masked message, the policy link."""
    return {"user_name": safe_display_name(user_name) or "there", "strike_count": strike_count, "reason": reason,
            "rule": rule, "message": _flagged(identity, message)} | _policy_urls(identity)


def account_restricted(identity: MailIdentity, user_name: str, strike_count: int, window_days: int,
                       restricted_until: datetime | None, messages: Sequence[FlaggedQuote]) -> dict[str, Any]:
    """Context of the restriction notice: why, which messages (masked), until when, how to appeal."""
    return {
        "user_name": safe_display_name(user_name) or "there", "strike_count": strike_count, "window_days": window_days,
        "restricted_until": _utc(restricted_until) if restricted_until else None,
        "messages": [_flagged(identity, m) for m in sorted(messages, key=lambda m: m.sent_at)],
    } | _policy_urls(identity)


def restriction_lifted(identity: MailIdentity, user_name: str, reason: str, strike_count: int,
                       window_days: int) -> dict[str, Any]:
    """Context of the notice that a restriction ended: ``reason`` is "strike_overturned" or "strikes_expired"."""
    return {"user_name": safe_display_name(user_name) or "there", "reason": reason, "strike_count": strike_count,
            "window_days": window_days} | _policy_urls(identity)


def strike_overturned(identity: MailIdentity, user_name: str, strike_given_at: datetime, message: FlaggedQuote,
                      strike_count: int, restriction_lifted: bool) -> dict[str, Any]:
    """Context of the notice that a strike was overturned (and whether that ended a restriction)."""
    return {"user_name": safe_display_name(user_name) or "there", "strike_given_at": _utc(strike_given_at),
            "message": _flagged(identity, message), "strike_count": strike_count,
            "restriction_lifted": restriction_lifted} | _policy_urls(identity)


def repeat_offender(user_email: str, user_external_id: str, strike_count: int, review_url: str) -> dict[str, Any]:
    """Context of the staff alert for a third strike."""
    return {"user_email": user_email, "user_external_id": str(user_external_id), "strike_count": strike_count,
            "review_url": review_url}


def suspension_recommended(user_email: str, user_external_id: str, strike_count: int, review_url: str) -> dict[str, Any]:
    """Context of the staff alert for a fifth strike."""
    return {"user_email": user_email, "user_external_id": str(user_external_id), "strike_count": strike_count,
            "review_url": review_url}


def flag_alert(item_id: int, kind: str, sender_email: str, excerpt: str, review_url: str) -> dict[str, Any]:
    """Context of the staff alert for a high-severity review item."""
    return {"item_id": item_id, "kind": kind, "sender_email": sender_email, "excerpt": excerpt, "review_url": review_url}


# --- New-message notifications -----------------------------------------------------------------


@dataclass(frozen=True)
class NewMessageFacts:
    """What a new-message email mentions: the recipient, the conversation and its unread messages (external ids only)."""

    recipient_external_id: str
    recipient_name: str
    conversation_external_id: str
    subject: str | None
    other_name: str
    shown: tuple[tuple[str, datetime, str, tuple[str, ...]], ...]
    """(sender name, sent at, masked text, attachment names) of each message shown, oldest first."""
    more: int
    zone: ZoneInfo


def new_message(identity: MailIdentity, facts: NewMessageFacts) -> dict[str, Any]:
    """Context of the new-message email: masked texts only, local times, one-click unsubscribe, thread id."""
    return {
        "recipient_name": safe_display_name(facts.recipient_name) or "there",
        "other_name": safe_display_name(facts.other_name) or "The other party",
        "listing": facts.subject or "your conversation",
        "conversation_url": conversation_url(identity.platform_domain, facts.conversation_external_id),
        "messages": [{"sender": safe_display_name(sender) or "Someone", "sent_at": _local(sent_at, facts.zone),
                      "text": text, "attachments": list(attachments)}
                     for sender, sent_at, text, attachments in facts.shown],
        "more": facts.more,
        "thread": facts.conversation_external_id,
    } | notification_unsubscribe_links(identity, facts.recipient_external_id)


@dataclass(frozen=True)
class DigestFacts:
    """What a daily digest lists: one line per unread conversation (previews are masked texts)."""

    recipient_external_id: str
    recipient_name: str
    day: str
    conversations: tuple[tuple[str, str | None, str, int, str | None], ...]
    """(conversation external id, subject, other party's name, unread count, masked preview or None)."""


def new_message_digest(identity: MailIdentity, facts: DigestFacts) -> dict[str, Any]:
    """Context of the daily digest of unread conversations."""
    return {
        "recipient_name": safe_display_name(facts.recipient_name) or "there",
        "day": facts.day,
        "conversations": [{"url": conversation_url(identity.platform_domain, conversation), "listing": subject or "a conversation",
                           "other_name": safe_display_name(other) or "The other party", "unread": unread,
                           "preview": _preview(preview)}
                          for conversation, subject, other, unread, preview in facts.conversations],
        "unread_total": sum(line[3] for line in facts.conversations),
    } | notification_unsubscribe_links(identity, facts.recipient_external_id)


def _preview(text: str | None, limit: int = 140) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
