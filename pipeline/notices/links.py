"""Links written into emails: conversations and unsubscribe tokens, by the marketplace's external ids.

Internal row ids never leave PeerGuard: the web app knows conversations and users by the ids
the marketplace gave them (``c-9``, ``u-17``). An unsubscribe token carries the external user id
and its HMAC, so the unsubscribe endpoint can verify it without looking anything up first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache
from urllib.parse import quote, unquote

from pipeline.notices.identity import MailIdentity

_MAC_BYTES = 16  # 128 bits: far beyond guessing, and a short enough URL for a List-Unsubscribe header


def conversation_url(domain: str, conversation_external_id: str) -> str:
    """The link to a conversation in the PeerMetals inbox (``https://{domain}/messages/c-9``)."""
    # Plain ids (the usual ``c-9``) need no quoting; ``quote`` was a tenth of the new-message sweep.
    plain = conversation_external_id.isascii() and conversation_external_id.replace("-", "").isalnum()
    return f"https://{domain}/messages/{conversation_external_id if plain else quote(conversation_external_id, safe='')}"


def _mac(secret: str, user_external_id: str, topic: str = "") -> str:
    # Each topic signs its own message, so a reminders link cannot switch off new-message emails.
    message = f"unsubscribe:{topic}:{user_external_id}" if topic else f"unsubscribe:{user_external_id}"
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).rstrip(b"=").decode("ascii")


@lru_cache(maxsize=65536)
def unsubscribe_token(secret: str, user_external_id: str, topic: str = "") -> str:
    """``<external user id>.<base64url HMAC>``: proves the request came from our link, names the user."""
    # The id is percent-quoted so any id stays one URL path segment; base64url has no '.', so
    # the last '.' always separates the id from the MAC.
    return f"{quote(user_external_id, safe='')}.{_mac(secret, user_external_id, topic)}"


def verify_unsubscribe_token(secret: str, token: str, topic: str = "") -> str | None:
    """The external user id a token was signed for (for ``topic``), or None for a forged or garbled token."""
    user_part, dot, mac = (token or "").rpartition(".")
    if not dot or not user_part or not mac:
        return None
    user_external_id = unquote(user_part)
    if not hmac.compare_digest(_mac(secret, user_external_id, topic).encode(), mac.encode("utf-8", "replace")):
        return None
    return user_external_id


def unsubscribe_links(identity: MailIdentity, user_external_id: str) -> dict[str, str]:
    """The RFC 8058 one-click URL of a seller's reminders.

    No mailto fallback: nothing reads an unsubscribe mailbox, and RFC 8058 needs only the https URI.
    """
    token = unsubscribe_token(identity.unsubscribe_secret, user_external_id)
    return {"unsubscribe_url": f"https://{identity.platform_domain}/email/unsubscribe/{token}"}


NEW_MESSAGES_TOPIC = "new-messages"


def notification_unsubscribe_links(identity: MailIdentity, user_external_id: str) -> dict[str, str]:
    """The RFC 8058 one-click URL that switches a user's new-message emails off (``notify`` = off)."""
    token = unsubscribe_token(identity.unsubscribe_secret, user_external_id, NEW_MESSAGES_TOPIC)
    return {"unsubscribe_url": f"https://{identity.platform_domain}/email/unsubscribe/{NEW_MESSAGES_TOPIC}/{token}"}
