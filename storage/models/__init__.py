"""All PeerGuard tables. Every model module is imported here so metadata is complete."""

from storage.models.api import ApiToken, ConversationRead, WebhookDelivery, WebhookEndpoint, WebhookEvent
from storage.models.base import Base, UTCDateTime
from storage.models.console import AuditEntry, SignInAttempt, StaffAccount, StaffSession
from storage.models.core import Attachment, Conversation, Message, User
from storage.models.detection import AttachmentScan, ContactFinding
from storage.models.notifications import Notification
from storage.models.outbox import OutboxClaimer, OutboxEmail, OutboxStatusCount
from storage.models.responses import EmailPreference, ResponseDeadline, ResponseDeadlineEvent, ResponseSyncCursor
from storage.models.review import ReviewHistory, ReviewItem, ReviewItemMessage, ReviewSignal, Strike
from storage.models.transcripts import TranscriptRequest

__all__ = [
    "ApiToken", "AuditEntry", "ConversationRead", "SignInAttempt", "StaffAccount", "StaffSession", "WebhookDelivery",
    "WebhookEndpoint", "WebhookEvent",
    "Attachment", "AttachmentScan", "Base", "ContactFinding", "Conversation", "EmailPreference", "Message", "Notification", "OutboxClaimer", "OutboxEmail",
    "OutboxStatusCount",
    "ResponseDeadline", "ResponseDeadlineEvent", "ResponseSyncCursor", "ReviewHistory", "ReviewItem", "ReviewItemMessage",
    "ReviewSignal", "Strike", "TranscriptRequest", "User", "UTCDateTime",
]
