"""New-message notification rules: when an email is due, which messages it shows, when the digest goes.

Pure functions only. Callers pass the unread messages of one (recipient, conversation), what was
already emailed in the current streak, the recipient's preference, ``now`` and a
``NotificationPolicy``; nothing here reads the clock, the database or the environment.

A streak is the run of a conversation's messages the recipient has not read yet. Its first email
goes ``delay`` after its first message; a later email in the same streak needs newer messages and
``repeat`` since the last one. Reading the conversation ends the streak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from pipeline.responses import as_utc


class Notify(StrEnum):
    """A user's choice of new-message emails; dashboard notifications exist regardless."""

    IMMEDIATE = "immediate"
    DAILY = "daily"
    OFF = "off"


@dataclass(frozen=True)
class NotificationPolicy:
    """The configurable new-message email rules; invalid values raise ValueError."""

    delay: timedelta = timedelta(minutes=2)
    repeat: timedelta = timedelta(minutes=60)
    digest_at: time = time(8, 0)
    max_shown: int = 5
    scan_wait: timedelta = timedelta(minutes=1)
    """How long to wait before looking again when a message is not scanned yet."""

    def __post_init__(self) -> None:
        if self.delay <= timedelta(0) or self.repeat <= timedelta(0):
            raise ValueError(f"delay and repeat must be positive, got {self.delay} and {self.repeat}")


class UnreadMessage(NamedTuple):
    """One unread message as an email may show it; ``masked_text`` is None until scanned."""

    message_id: int
    external_id: str
    sender_name: str
    sent_at: datetime
    masked_text: str | None
    attachments: tuple[str, ...] = ()

    @property
    def scanned(self) -> bool:
        return self.masked_text is not None


class EmailDecision(NamedTuple):
    """Whether to send now, else when to look again (None: not until a new message), and what to show."""

    send: bool
    next_due_at: datetime | None
    reason: str
    shown: tuple[UnreadMessage, ...] = ()
    more: int = 0
    first_new: UnreadMessage | None = None
    """The first message this email newly covers: it names the email (its idempotency key)."""
    through: datetime | None = None
    """The newest message the email covers (shown or counted in "and N more")."""


def email_due_at(first_new_at: datetime, emailed_at: datetime | None, policy: NotificationPolicy) -> datetime:
    """``delay`` after the first message not yet emailed, and at least ``repeat`` after the last email."""
    # Aware datetimes compare and add correctly whatever their zone; no conversion on the hot path.
    due = first_new_at + policy.delay
    if emailed_at is not None:
        due = max(due, emailed_at + policy.repeat)
    return due


def decide_new_message_email(unread: Sequence[UnreadMessage], emailed_through: datetime | None,
                             emailed_at: datetime | None, notify: str, has_address: bool, now: datetime,
                             policy: NotificationPolicy) -> EmailDecision:
    """The new-message email of one streak: send now, wait, or drop (read, daily, off, no address).

    Every datetime must be aware (any zone).
    """
    if notify != Notify.IMMEDIATE:
        return EmailDecision(False, None, f"notify {notify}")
    if not has_address:
        return EmailDecision(False, None, "no address")
    if not unread:
        return EmailDecision(False, None, "read")
    ordered = sorted(unread, key=lambda m: (m.sent_at, m.message_id))
    fresh = [m for m in ordered if emailed_through is None or m.sent_at > emailed_through]
    if not fresh:
        return EmailDecision(False, None, "already emailed")
    due = email_due_at(fresh[0].sent_at, emailed_at, policy)
    if now < due:
        return EmailDecision(False, due, "not yet")
    if not all(m.scanned for m in ordered):
        # The email shows masked text only; the scanning stage has not masked every message yet.
        return EmailDecision(False, now + policy.scan_wait, "waiting for scan")
    shown = tuple(ordered[: policy.max_shown])
    return EmailDecision(True, None, "send", shown, len(ordered) - len(shown), fresh[0], as_utc(ordered[-1].sent_at))


# --- The daily digest ---------------------------------------------------------------------------


def digest_time(day: date, zone: ZoneInfo, policy: NotificationPolicy) -> datetime:
    """The moment of ``day``'s digest (``digest_at`` local, or just after a DST gap), in UTC."""
    local = datetime.combine(day, policy.digest_at, tzinfo=zone)
    # A wall time inside a spring-forward gap does not exist; the round trip moves it forward.
    return as_utc(as_utc(local).astimezone(zone))


def digest_day(now: datetime, zone: ZoneInfo, last_sent: date | None, policy: NotificationPolicy) -> date | None:
    """The local day whose digest is due at ``now``, or None (before ``digest_at`` or already sent)."""
    today = as_utc(now).astimezone(zone).date()
    if as_utc(now) < digest_time(today, zone, policy):
        return None
    if last_sent is not None and last_sent >= today:
        return None
    return today
