"""Notification emails: contexts (one small function per notice), rendering, and message building.

Each notice has a template folder ``templates/email/<name>/{subject.txt,body.txt,body.html}``.
The public names live in the submodules and are re-exported here, so callers import from
``pipeline.notices`` alone.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Re-exported lazily (PEP 562): a process that needs only MailIdentity (every command, through
# the settings) must not pay for the detector and Jinja2 that rendering imports.
_HOME = {
    **dict.fromkeys(('DigestFacts', 'FlaggedQuote', 'NewMessageFacts', 'RESPONSE_CONTEXTS', 'ResponseNoticeFacts', 'account_restricted', 'flag_alert', 'flagged_text', 'new_message', 'new_message_digest', 'one_line', 'policy_warning', 'quote', 'redact', 'repeat_offender', 'response_breach', 'response_final_warning', 'response_reminder', 'restriction_lifted', 'strike_overturned', 'suspension_recommended', 'without_conversations'), "contexts"),
    **dict.fromkeys(('MailIdentity', 'safe_display_name'), "identity"),
    **dict.fromkeys(('NEW_MESSAGES_TOPIC', 'conversation_url', 'notification_unsubscribe_links', 'unsubscribe_links', 'unsubscribe_token', 'verify_unsubscribe_token'), "links"),
    **dict.fromkeys(('MESSAGE_POLICY', 'NOTICE_HEADER', 'OutgoingNotice', 'SENDING_POLICY', 'UNSUBSCRIBE_NOTICES', 'build_message', 'message_id_for', 'single_line_fold', 'thread_id_for'), "messages"),
    **dict.fromkeys(('KNOWN_NOTICES', 'RenderedEmail', 'render_notice'), "rendering"),
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"pipeline.notices.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "KNOWN_NOTICES", "MESSAGE_POLICY", "NEW_MESSAGES_TOPIC", "NOTICE_HEADER", "RESPONSE_CONTEXTS", "SENDING_POLICY", "UNSUBSCRIBE_NOTICES",
    "DigestFacts", "FlaggedQuote", "MailIdentity", "NewMessageFacts", "OutgoingNotice", "RenderedEmail", "ResponseNoticeFacts",
    "account_restricted", "build_message", "conversation_url", "flag_alert", "flagged_text", "message_id_for", "new_message",
    "new_message_digest", "notification_unsubscribe_links", "one_line", "policy_warning", "quote", "redact", "render_notice",
    "restriction_lifted", "strike_overturned",
    "repeat_offender", "response_breach", "response_final_warning", "response_reminder", "safe_display_name",
    "single_line_fold", "suspension_recommended", "thread_id_for", "unsubscribe_links", "unsubscribe_token", "verify_unsubscribe_token",
    "without_conversations",
]
