"""All PeerGuard tables. Every model module is imported here so metadata is complete."""

from storage.models.base import Base, UTCDateTime
from storage.models.core import Attachment, Conversation, Message, User
from storage.models.detection import ContactFinding

__all__ = ["Attachment", "Base", "ContactFinding", "Conversation", "Message", "UTCDateTime", "User"]

# Response deadlines and the shared email outbox (issue 4).
from storage.models.outbox import OutboxEmail  # noqa: E402
from storage.models.responses import (  # noqa: E402
    EmailPreference,
    ResponseDeadline,
    ResponseDeadlineEvent,
    ResponseSyncCursor,
)

__all__ += ["EmailPreference", "OutboxEmail", "ResponseDeadline", "ResponseDeadlineEvent", "ResponseSyncCursor"]

# The trust-and-safety review queue (issue 6).
from storage.models.review import ReviewHistory, ReviewItem, ReviewSignal, Strike  # noqa: E402

__all__ += ["ReviewHistory", "ReviewItem", "ReviewSignal", "Strike"]

# Dispute transcripts (issue 5).
from storage.models.transcripts import TranscriptRequest  # noqa: E402

__all__ += ["TranscriptRequest"]
