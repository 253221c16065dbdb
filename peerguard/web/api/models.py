"""Request and response models: the API's contract, and through them its OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class UserIn(Strict):
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone; default UTC")
    away: bool = False
    role: Literal["member", "staff"] | None = None
    notify: Literal["immediate", "daily", "off"] | None = Field(default=None, description="New-message emails; default immediate")


class ConversationIn(Strict):
    buyer: str = Field(max_length=128)
    seller: str = Field(max_length=128)
    subject: str | None = Field(default=None, max_length=500)
    order: str | None = Field(default=None, max_length=128)


class AttachmentIn(Strict):
    sha256: str = Field(min_length=64, max_length=64, description="As answered by POST /v1/attachments")
    name: str = Field(max_length=255)


class MessageIn(Strict):
    conversation: str = Field(max_length=128)
    sender: str = Field(max_length=128)
    sent_at: datetime = Field(description="ISO-8601 with a time zone")
    text: str = Field(description="At most 256 KiB of UTF-8")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)


class ReadIn(Strict):
    user: str = Field(max_length=128)
    at: datetime


class BatchIn(Strict):
    records: list[dict[str, Any]] = Field(max_length=1000, description="Records with type and id, as in the import format")


class Stored(BaseModel):
    id: str
    status: Literal["created", "updated", "unchanged"]


class BatchResult(BaseModel):
    index: int
    id: str | None = None
    status: str
    error: dict[str, str] | None = None


class BatchOut(BaseModel):
    results: list[BatchResult]


class UploadOut(BaseModel):
    sha256: str
    size: int
    content_type: str


class ScanIn(Strict):
    text: str = Field(max_length=262144)
    conversation: str | None = Field(default=None, max_length=128)
    sender: str | None = Field(default=None, max_length=128)


class FindingOut(BaseModel):
    kind: str
    start: int
    end: int
    match: str
    value: str
    score: float
    detector_version: str
    split: bool = Field(default=False, description="Only found together with the conversation's earlier messages")
    evidence: dict[str, str] | None = Field(
        default=None, description="How the match was read when not plain English: `lang` (the rule's language), `decoder` (e.g. reversed, nato)")


class ScanOut(BaseModel):
    findings: list[FindingOut]
    masked_text: str
    message: str | None = Field(description="A sentence to show the sender, or null when the text is clean")


class TranscriptIn(Strict):
    evidence: bool = False
    requested_by: str | None = Field(default=None, max_length=200)


class TranscriptState(BaseModel):
    id: str
    conversation: str
    status: str
    sha256: str | None = None
    pages: int | None = None
    error: str | None = None
