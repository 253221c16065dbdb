"""Seller response-time rules: who owes a reply, which notice is due, and response statistics.

Pure functions only. Callers pass the message timeline, the seller's profile, ``now`` and a
``ResponsePolicy``; nothing here reads the clock, the database or the environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC_ZONE = ZoneInfo("UTC")


class SenderRole(StrEnum):
    """Which side of a conversation wrote a message; anything else (staff, system) is ignored."""

    BUYER = "buyer"
    SELLER = "seller"


class Stage(IntEnum):
    """Notice stages of one obligation, in the order they fall due; 0 means none sent yet."""

    NONE = 0
    REMINDER = 1
    FINAL_WARNING = 2
    BREACH = 3

    @property
    def notice(self) -> str:
        """The email notice name for this stage."""
        return _STAGE_NOTICES[self]


_STAGE_NOTICES = {
    Stage.NONE: "",
    Stage.REMINDER: "response-reminder",
    Stage.FINAL_WARNING: "response-final-warning",
    Stage.BREACH: "response-breach",
}

# Reminders and final warnings are nudges the seller may switch off; the breach notice is the
# record of a policy violation and goes out regardless of the opt-out.
OPT_OUT_STAGES = frozenset({Stage.REMINDER, Stage.FINAL_WARNING})


class Delivery(StrEnum):
    """What happens to the email of a stage that has just been recorded."""

    SEND = "send"
    SUPPRESSED_AWAY = "suppressed-away"
    SUPPRESSED_OPTED_OUT = "suppressed-opted-out"
    SUPPRESSED_NO_EMAIL = "suppressed-no-email"


@dataclass(frozen=True)
class ResponsePolicy:
    """The configurable response-time rules (defaults from the PeerMetals policy); invalid values raise ValueError."""

    reminder_after: timedelta = timedelta(hours=1)
    final_warning_after: timedelta = timedelta(hours=20)
    breach_after: timedelta = timedelta(hours=24)
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 0)
    stats_window: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.reminder_after < self.final_warning_after < self.breach_after:
            raise ValueError(
                "response stages must satisfy 0 < reminder < final warning < breach, got "
                f"{self.reminder_after}, {self.final_warning_after}, {self.breach_after}"
            )

    def offset(self, stage: Stage) -> timedelta:
        """How long after the clock starts ``stage`` falls due."""
        if stage == Stage.REMINDER:
            return self.reminder_after
        if stage == Stage.FINAL_WARNING:
            return self.final_warning_after
        if stage == Stage.BREACH:
            return self.breach_after
        raise ValueError(f"stage {stage!r} has no due time")


# --- Timeline → obligations -------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineMessage:
    """One message of a conversation as the response rules see it."""

    message_id: int
    role: str
    sent_at: datetime


@dataclass(frozen=True)
class ResponseObligation:
    """A reply the seller owes: started by a buyer message, answered by a later seller message."""

    started_at: datetime
    started_by: int
    answered_at: datetime | None = None
    answered_by: int | None = None

    @property
    def response_seconds(self) -> int | None:
        """Seconds from the clock start to the answer, or None while unanswered."""
        if self.answered_at is None:
            return None
        return int((self.answered_at - self.started_at).total_seconds())


@dataclass(frozen=True)
class ConversationObligations:
    """The obligations of one conversation plus the ids of messages whose date was clamped."""

    obligations: tuple[ResponseObligation, ...]
    future_message_ids: tuple[int, ...] = ()

    @property
    def open_obligation(self) -> ResponseObligation | None:
        """The unanswered obligation, if any (there is at most one: the last)."""
        if self.obligations and self.obligations[-1].answered_at is None:
            return self.obligations[-1]
        return None


def as_utc(moment: datetime) -> datetime:
    """Return ``moment`` as an aware UTC datetime; naive values (SQLite) are taken as UTC."""
    if moment.tzinfo is UTC:  # already so (the statistics convert hundreds of thousands of these)
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def obligations_from_timeline(
    messages: Iterable[TimelineMessage], now: datetime
) -> ConversationObligations:
    """Compute every obligation in a conversation from its messages, in any order."""
    now = as_utc(now)
    ordered, future_ids = _normalised_timeline(messages, now)
    obligations: list[ResponseObligation] = []
    open_start: TimelineMessage | None = None
    for message in ordered:
        if message.role == SenderRole.BUYER and open_start is None:
            open_start = message
        elif message.role == SenderRole.SELLER and open_start is not None:
            obligations.append(_answered(open_start, message))
            open_start = None
        # Later buyer messages while a reply is owed do not restart the clock, and a seller
        # message before any buyer message (seller writes first) answers nothing.
    if open_start is not None:
        obligations.append(ResponseObligation(open_start.sent_at, open_start.message_id))
    return ConversationObligations(tuple(obligations), tuple(future_ids))


def _normalised_timeline(
    messages: Iterable[TimelineMessage], now: datetime
) -> tuple[list[TimelineMessage], list[int]]:
    # A message cannot have been written after we saw it, so a date in the future (a skewed
    # client clock, a bad import) is clamped to ``now``; the ids are reported so callers can log.
    # Sorting by (date, id) makes out-of-order input and equal timestamps deterministic.
    clamped: list[TimelineMessage] = []
    future_ids: list[int] = []
    for message in messages:
        sent_at = as_utc(message.sent_at)
        if sent_at > now:
            future_ids.append(message.message_id)
            sent_at = now
        clamped.append(TimelineMessage(message.message_id, str(message.role), sent_at))
    clamped.sort(key=lambda m: (m.sent_at, m.message_id))
    return clamped, sorted(future_ids)


def _answered(start: TimelineMessage, reply: TimelineMessage) -> ResponseObligation:
    return ResponseObligation(start.sent_at, start.message_id, reply.sent_at, reply.message_id)


# --- Time zones and quiet hours -----------------------------------------------------------------


@dataclass(frozen=True)
class SellerZone:
    """The zone used for a seller, and whether their configured name had to be replaced by UTC."""

    zone: ZoneInfo
    fell_back_to_utc: bool = False


@lru_cache(maxsize=1024)
def resolve_zone(name: str | None) -> SellerZone:
    """Return the seller's zone; an unknown or malformed name falls back to UTC with a flag."""
    if name is None or not name.strip():
        return SellerZone(UTC_ZONE)
    try:
        return SellerZone(ZoneInfo(name.strip()))
    except (ZoneInfoNotFoundError, ValueError):
        return SellerZone(UTC_ZONE, fell_back_to_utc=True)


def in_quiet_hours(moment: datetime, zone: ZoneInfo, policy: ResponsePolicy) -> bool:
    """Whether ``moment`` falls inside the quiet hours on the seller's local clock."""
    local = as_utc(moment).astimezone(zone).time()
    if policy.quiet_start <= policy.quiet_end:
        return policy.quiet_start <= local < policy.quiet_end
    return local >= policy.quiet_start or local < policy.quiet_end


def quiet_hours_end(moment: datetime, zone: ZoneInfo, policy: ResponsePolicy) -> datetime:
    """The next end of quiet hours (07:00 local) after ``moment``, as UTC; DST-correct."""
    local = as_utc(moment).astimezone(zone)
    day: date = local.date()
    if local.time() >= policy.quiet_end:
        day += timedelta(days=1)
    # Combining the local wall time with the zone (not adding 24 h in UTC) is what makes the
    # result right on the nights the clocks change.
    return datetime.combine(day, policy.quiet_end, tzinfo=zone).astimezone(UTC)


# --- Stage decisions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SellerProfile:
    """What the rules need to know about the seller who owes a reply."""

    seller_id: int
    email: str | None
    timezone: str | None = None
    away: bool = False
    reminders_opted_out: bool = False


@dataclass(frozen=True)
class StageDecision:
    """What one sweep of one open obligation should record."""

    stage: Stage | None
    delivery: Delivery | None
    next_due_at: datetime | None
    skipped: tuple[Stage, ...] = ()
    held_until: datetime | None = None
    zone: SellerZone = field(default_factory=lambda: SellerZone(UTC_ZONE))

    @property
    def breached(self) -> bool:
        """Whether this decision records the 24-hour breach."""
        return self.stage == Stage.BREACH


def latest_due_stage(
    started_at: datetime, stage_sent: Stage, now: datetime, policy: ResponsePolicy
) -> Stage | None:
    """The latest stage past its due time that has not been recorded yet, or None."""
    elapsed = as_utc(now) - as_utc(started_at)
    # The offsets increase with the stage (ResponsePolicy checks that), so the first one passed,
    # looking from the breach down, is the latest due stage.
    if elapsed >= policy.breach_after:
        due = Stage.BREACH
    elif elapsed >= policy.final_warning_after:
        due = Stage.FINAL_WARNING
    elif elapsed >= policy.reminder_after:
        due = Stage.REMINDER
    else:
        return None
    return None if due <= stage_sent else due


def stage_due_at(started_at: datetime, stage: Stage, policy: ResponsePolicy) -> datetime | None:
    """When the stage after ``stage`` falls due, or None after the breach."""
    if stage >= Stage.BREACH:
        return None
    return as_utc(started_at) + policy.offset(Stage(stage + 1))


def decide_stage(
    started_at: datetime,
    stage_sent: Stage,
    seller: SellerProfile,
    now: datetime,
    policy: ResponsePolicy,
) -> StageDecision:
    """Decide which stage (if any) to record for an open obligation at ``now``."""
    zone = resolve_zone(seller.timezone)
    stage = latest_due_stage(started_at, stage_sent, now, policy)
    if stage is None:
        return StageDecision(None, None, stage_due_at(started_at, stage_sent, policy), zone=zone)
    if stage == Stage.REMINDER and in_quiet_hours(now, zone.zone, policy) and not seller.away:
        return _held_reminder(started_at, now, zone, policy)
    skipped = tuple(Stage(s) for s in range(stage_sent + 1, stage))
    return StageDecision(
        stage, delivery_for(stage, seller), stage_due_at(started_at, stage, policy), skipped, zone=zone
    )


def _held_reminder(
    started_at: datetime, now: datetime, zone: SellerZone, policy: ResponsePolicy
) -> StageDecision:
    # We hold whenever the seller's clock reads quiet hours at send time, which covers a
    # reminder falling due at night and a late sweep reaching a reminder at night. If the hold
    # would outlast the final warning, the final warning supersedes the reminder instead.
    release = quiet_hours_end(now, zone.zone, policy)
    final_at = as_utc(started_at) + policy.final_warning_after
    return StageDecision(None, None, min(release, final_at), held_until=release, zone=zone)


def delivery_for(stage: Stage, seller: SellerProfile) -> Delivery:
    """Whether the email for ``stage`` goes out, and if not, why not."""
    if seller.away:
        return Delivery.SUPPRESSED_AWAY
    if seller.reminders_opted_out and stage in OPT_OUT_STAGES:
        return Delivery.SUPPRESSED_OPTED_OUT
    if not seller.email or not seller.email.strip():
        return Delivery.SUPPRESSED_NO_EMAIL
    return Delivery.SEND


# --- Statistics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseRecord:
    """One obligation as the statistics see it."""

    started_at: datetime
    answered_at: datetime | None
    away: bool = False


class SellerResponseStats(NamedTuple):
    """A seller's response record over the statistics window.

    A named tuple, like ``StatsSummary``: `sellers stats` builds one per seller (10,000 on the
    benchmark) and a frozen dataclass costs about three times as much to construct.
    """

    obligations: int
    answered: int
    median_response_seconds: float | None
    share_within_target: float | None
    share_within_limit: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-safe form for ``sellers stats --json``."""
        return {
            "obligations": self.obligations,
            "answered": self.answered,
            "median_response_seconds": self.median_response_seconds,
            "share_within_1h": self.share_within_target,
            "share_within_24h": self.share_within_limit,
        }


class StatsSummary(NamedTuple):
    """Everything ``seller_stats`` needs from one seller's records: counts and the middle response times.

    A database can compute this (``storage.response_stats`` does, on PostgreSQL) instead of
    handing over every record; ``summarise`` is the definition it must agree with, and
    ``stats_from_summary`` turns either into the figures shown. A named tuple: `sellers stats`
    builds one per seller (10,000 on the benchmark), where a frozen dataclass costs several times more.
    """

    obligations: int
    """Records in the window, not while away."""
    answered: int
    middle_seconds: tuple[float, ...]
    """The middle answered response time (odd count) or the two middle ones, ascending; () if none answered."""
    decided_target: int
    """Obligations whose outcome against the target (1 h) is known: answered, or open for longer than it."""
    within_target: int
    decided_limit: int
    within_limit: int


def summarise(records: Iterable[ResponseRecord], now: datetime, policy: ResponsePolicy) -> StatsSummary:
    """The summary of one seller's records over the policy's window ending at ``now``."""
    now = as_utc(now)
    window = [
        r for r in records if not r.away and now - policy.stats_window <= as_utc(r.started_at) <= now
    ]
    seconds = sorted(
        (as_utc(r.answered_at) - as_utc(r.started_at)).total_seconds()
        for r in window
        if r.answered_at is not None
    )
    decided_target, within_target = _decided_and_within(window, policy.reminder_after, now)
    decided_limit, within_limit = _decided_and_within(window, policy.breach_after, now)
    return StatsSummary(len(window), len(seconds), _middle(seconds), decided_target, within_target,
                        decided_limit, within_limit)


def middle_positions(count: int) -> tuple[int, ...]:
    """The 0-based positions of the middle value(s) among ``count`` sorted values, as ``statistics.median`` takes them."""
    if count == 0:
        return ()
    if count % 2 == 1:
        return (count // 2,)
    return (count // 2 - 1, count // 2)


def _middle(ordered: Sequence[float]) -> tuple[float, ...]:
    return tuple(ordered[i] for i in middle_positions(len(ordered)))


def stats_from_summary(summary: StatsSummary) -> SellerResponseStats:
    """The shown statistics: the median as ``statistics.median`` computes it, shares as hits / decided."""
    # Unpacked once: `sellers stats` calls this for every seller (10,000 on the benchmark).
    obligations, answered, middle, decided_target, within_target, decided_limit, within_limit = summary
    median = None if not middle else middle[0] if len(middle) == 1 else (middle[0] + middle[1]) / 2
    # Positional: keyword arguments cost a named tuple noticeably more.
    return SellerResponseStats(
        obligations,
        answered,
        median,
        within_target / decided_target if decided_target else None,
        within_limit / decided_limit if decided_limit else None,
    )


def seller_stats(
    records: Iterable[ResponseRecord], now: datetime, policy: ResponsePolicy
) -> SellerResponseStats:
    """Median response time and shares answered within the target (1 h) and limit (24 h)."""
    return stats_from_summary(summarise(records, now, policy))


def _decided_and_within(records: Sequence[ResponseRecord], limit: timedelta, now: datetime) -> tuple[int, int]:
    # An obligation counts once its outcome against ``limit`` is known: answered, or unanswered
    # for longer than the limit. Younger open obligations would otherwise drag the share down.
    decided = [
        r for r in records if r.answered_at is not None or now - as_utc(r.started_at) > limit
    ]
    hits = sum(
        1 for r in decided if r.answered_at is not None and as_utc(r.answered_at) - as_utc(r.started_at) <= limit
    )
    return len(decided), hits
