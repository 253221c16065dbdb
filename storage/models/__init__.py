"""All PeerGuard tables. Every model module is imported here so metadata is complete."""

from storage.models.base import Base, UTCDateTime
from storage.models.core import Attachment, Conversation, Message, User
from storage.models.detection import ContactFinding

__all__ = ["Attachment", "Base", "ContactFinding", "Conversation", "Message", "UTCDateTime", "User"]
