"""The JSON-lines interchange format: one user, conversation or message per line.

Parsing is pure: it checks shape and values and returns typed records; resolving references
and reading attachment files is the importing use case's job. The HTTP API sends the same
objects (without ``type`` and ``id``, which its URLs carry) and gets the same checks and limits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from pipeline.addresses import is_plain_address

MAX_BODY_BYTES = 256 * 1024
"""Largest message body accepted, in UTF-8 bytes (the marketplace caps messages well below)."""
MAX_LINE_BYTES = 64 * 1024 * 1024
MAX_ATTACHMENTS = 20
MAX_ID_LENGTH = 128


class InterchangeError(ValueError):
    """A line that cannot be imported; the message says why, in one sentence."""


@dataclass(frozen=True)
class UserRecord:
    external_id: str
    name: str
    email: str | None
    timezone: str
    away: bool
    role: str | None = None
    """"member" or "staff"; None when the line does not say, so an import never demotes staff."""
    notify: str | None = None
    """New-message emails: "immediate", "daily" or "off"; None keeps the stored choice."""


USER_ROLES = ("member", "staff")
NOTIFY_CHOICES = ("immediate", "daily", "off")


@dataclass(frozen=True)
class ConversationRecord:
    external_id: str
    buyer: str
    seller: str
    subject: str | None
    order_ref: str | None


@dataclass(frozen=True)
class AttachmentRef:
    """A file beside the import file (``path``) or one already uploaded through the API (``sha256``)."""

    path: PurePosixPath | None
    name: str
    sha256: str | None = None


@dataclass(frozen=True)
class MessageRecord:
    external_id: str
    conversation: str
    sender: str
    sent_at: datetime
    text: str
    attachments: tuple[AttachmentRef, ...]


@dataclass(frozen=True)
class ReadRecord:
    """A read receipt: ``user`` read ``conversation`` up to ``at``."""

    conversation: str
    user: str
    at: datetime

    @property
    def external_id(self) -> str:
        return f"{self.conversation}:{self.user}"


Record = UserRecord | ConversationRecord | MessageRecord | ReadRecord


def parse_line(raw: bytes | str) -> Record:
    """Parse one interchange line into a record, or raise InterchangeError."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_LINE_BYTES:
            raise InterchangeError(f"line longer than {MAX_LINE_BYTES} bytes")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InterchangeError(f"not valid UTF-8 (byte {exc.start})") from None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # What orjson refuses, the standard decoder decides, with its own words: malformed JSON,
        # and also what it accepts and orjson does not (NaN, numbers past 64 bits, lone surrogates).
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InterchangeError(f"malformed JSON: {exc.msg} at column {exc.colno}") from None
    return parse_record(obj)


def parse_record(obj: object) -> Record:
    """Check one decoded record (a JSON object with a ``type``) and return it typed."""
    if not isinstance(obj, dict):
        raise InterchangeError("each record must be a JSON object")
    kind = obj.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise InterchangeError(f"unknown type {kind!r}; expected user, conversation, message or read")
    return parser(obj)


def _parse_user(obj: dict) -> UserRecord:
    tz = _optional_str(obj, "timezone") or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InterchangeError(f"unknown time zone {tz!r}") from None
    email = _optional_str(obj, "email")
    if email is not None and not is_plain_address(email):
        raise InterchangeError(f"malformed email {email!r}")
    away = obj.get("away", False)
    if not isinstance(away, bool):
        raise InterchangeError("'away' must be true or false")
    role = obj.get("role")
    if role is not None and role not in USER_ROLES:
        raise InterchangeError(f"'role' must be one of {', '.join(USER_ROLES)}, got {role!r}")
    notify = obj.get("notify")
    if notify is not None and notify not in NOTIFY_CHOICES:
        raise InterchangeError(f"'notify' must be one of {', '.join(NOTIFY_CHOICES)}, got {notify!r}")
    return UserRecord(_id(obj, "id"), _required_str(obj, "name", 200), email, tz, away, role, notify)


def _parse_conversation(obj: dict) -> ConversationRecord:
    buyer, seller = _id(obj, "buyer"), _id(obj, "seller")
    if buyer == seller:
        raise InterchangeError("buyer and seller must be different users")
    return ConversationRecord(
        _id(obj, "id"), buyer, seller, _optional_str(obj, "subject", 500), _optional_str(obj, "order", 128)
    )


_ABSENT = object()


def _parse_message(obj: dict) -> MessageRecord:
    text = obj.get("text")
    if not isinstance(text, str):
        raise InterchangeError("'text' must be a string")
    if text.isascii():  # one byte a character, and no surrogate (an import's usual text: no encoding needed)
        size = len(text)
    else:
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise InterchangeError("'text' holds a lone surrogate, not valid Unicode") from None
    if size > MAX_BODY_BYTES:
        raise InterchangeError(f"'text' is {size} bytes; the limit is {MAX_BODY_BYTES}")
    items = obj.get("attachments", _ABSENT)
    return MessageRecord(
        _id(obj, "id"),
        _id(obj, "conversation"),
        _id(obj, "sender"),
        parse_timestamp(obj.get("sent_at"), "sent_at"),
        text,
        () if items is _ABSENT or items == [] else _parse_attachments(items),
    )


def _parse_read(obj: dict) -> ReadRecord:
    return ReadRecord(_id(obj, "conversation"), _id(obj, "user"), parse_timestamp(obj.get("at"), "at"))


def parse_timestamp(value: object, field: str = "sent_at") -> datetime:
    """An ISO-8601 timestamp with a time zone, as aware UTC."""
    if not isinstance(value, str):
        raise InterchangeError(f"'{field}' must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00") if "Z" in value or "z" in value
                                        else value)
    except ValueError:
        raise InterchangeError(f"'{field}' is not ISO-8601: {value!r}") from None
    if parsed.tzinfo is None:
        raise InterchangeError(f"'{field}' needs a time zone (e.g. Z): {value!r}")
    return parsed.astimezone(timezone.utc)


def _parse_attachments(items: object) -> tuple[AttachmentRef, ...]:
    if not isinstance(items, list):
        raise InterchangeError("'attachments' must be a list")
    if len(items) > MAX_ATTACHMENTS:
        raise InterchangeError(f"more than {MAX_ATTACHMENTS} attachments")
    return tuple(_parse_attachment(i, item) for i, item in enumerate(items))


def _parse_attachment(index: int, item: object) -> AttachmentRef:
    if isinstance(item, dict) and isinstance(item.get("sha256"), str) and "path" not in item:
        return _uploaded_attachment(index, item)
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        raise InterchangeError(f"attachment {index}: needs a 'path' string (or the 'sha256' of an upload)")
    path = safe_relative_path(item["path"])
    name = item.get("name", path.name)
    if not isinstance(name, str) or not name.strip():
        raise InterchangeError(f"attachment {index}: 'name' must be a non-empty string")
    return AttachmentRef(path, clean_filename(name))


def _uploaded_attachment(index: int, item: dict) -> AttachmentRef:
    digest = item["sha256"].lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InterchangeError(f"attachment {index}: 'sha256' must be 64 hexadecimal digits")
    name = item.get("name", digest[:12])
    if not isinstance(name, str) or not name.strip():
        raise InterchangeError(f"attachment {index}: 'name' must be a non-empty string")
    return AttachmentRef(None, clean_filename(name), digest)


def safe_relative_path(raw: str) -> PurePosixPath:
    """A path that stays inside the import file's folder, or InterchangeError."""
    if not raw or "\x00" in raw or "\\" in raw:
        raise InterchangeError(f"attachment path {raw!r} is not a plain relative path")
    path = PurePosixPath(raw)
    if path.is_absolute() or ".." in path.parts or raw.startswith("~"):
        raise InterchangeError(f"attachment path {raw!r} leaves the import folder")
    return path


def clean_filename(name: str) -> str:
    """A display-safe original file name: no path parts, controls or bidi overrides, ≤ 255 chars."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if c.isprintable() and c not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    cleaned = cleaned.strip() or "unnamed"
    return cleaned[:255]


def _id(obj: dict, key: str) -> str:
    return _required_str(obj, key, MAX_ID_LENGTH)


def _required_str(obj: dict, key: str, limit: int) -> str:
    value = obj.get(key)
    if isinstance(value, str) and 0 < len(value) <= limit and not value.isspace():
        return value  # the usual case, checked without copying the value (``strip``)
    if not isinstance(value, str) or not value.strip():
        raise InterchangeError(f"'{key}' must be a non-empty string")
    if len(value) > limit:
        raise InterchangeError(f"'{key}' is longer than {limit} characters")
    return value


def _optional_str(obj: dict, key: str, limit: int = 320) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InterchangeError(f"'{key}' must be a string")
    if len(value) > limit:
        raise InterchangeError(f"'{key}' is longer than {limit} characters")
    return value or None


_PARSERS = {"user": _parse_user, "conversation": _parse_conversation, "message": _parse_message, "read": _parse_read}
