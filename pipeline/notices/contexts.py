"""Notice contexts: one small function per notice, JSON-safe values only (they wait in the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.notices.identity import MailIdentity, safe_display_name
from pipeline.notices.links import conversation_url, unsubscribe_links
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
