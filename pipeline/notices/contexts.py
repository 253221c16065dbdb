"""Notice contexts: one small function per notice, JSON-safe values only (they wait in the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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


@dataclass(frozen=True)
class ResponseNoticeFacts:
    """The facts of one obligation stage that the response notices mention (external ids only)."""

    seller_external_id: str
    seller_name: str
    conversation_external_id: str
    started_at: datetime
    stage_due_at: datetime
    deadline: datetime
    zone: ZoneInfo


def _response_context(identity: MailIdentity, facts: ResponseNoticeFacts) -> dict[str, Any]:
    return {
        "seller_name": safe_display_name(facts.seller_name) or "there",
        "conversation_url": conversation_url(identity.platform_domain, facts.conversation_external_id),
        "waiting_since": _local(facts.started_at, facts.zone),
        "deadline": _local(facts.deadline, facts.zone),
    }


def response_reminder(identity: MailIdentity, facts: ResponseNoticeFacts) -> dict[str, Any]:
    """Context of the 1-hour reminder."""
    return _response_context(identity, facts) | unsubscribe_links(identity, facts.seller_external_id)


def response_final_warning(identity: MailIdentity, facts: ResponseNoticeFacts) -> dict[str, Any]:
    """Context of the final warning, with the whole hours left before the limit."""
    seconds_left = (as_utc(facts.deadline) - as_utc(facts.stage_due_at)).total_seconds()
    return (
        _response_context(identity, facts)
        | unsubscribe_links(identity, facts.seller_external_id)
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
    """Context of the first-strike warning to a sender."""
    return {"user_name": user_name or "there", "strike_count": strike_count, "reason": reason, "policy_url": policy_url}


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
