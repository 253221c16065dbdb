"""A reference model of the notification emails, written from the rules of issue 12 and the README, not the code.

From the generated traffic alone it says which emails go to whom and when:

- ``new-message`` (users who chose ``immediate``): ``DELAY`` after the first unread message of a
  streak, covering every message of that conversation still unread then; none if the recipient
  read first (a read receipt or their own reply); no second one for the same streak until
  ``REPEAT`` after the last one, and only for messages newer than those it covered.
- ``new-message-digest`` (users who chose ``daily``): at 08:00 local time each day, listing the
  conversations with unread messages at that moment; none when there are none.
- Response emails to the seller (not away): the obligation starts at the oldest buyer message no
  later seller message answers; ``response-reminder`` at +1 h, held while the seller's clock
  reads 22:00-07:00 until 07:00 local (superseded by the final warning if that comes first),
  ``response-final-warning`` at +20 h, ``response-breach`` at +24 h; none once answered.
  Several due at once for one seller at one stage are one email listing the conversations.

The simulation ingests every event at or before a sweep's ``now`` before that sweep runs, so an
event at the exact due time counts as before it. An email is "sent at" the sweep that queues it:
the first sweep at or after its due time (the test sweeps at every due time this model names,
so in practice exactly then).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.notifications.sim_traffic import END, START, SimMessage, SimRead, Traffic

DELAY = timedelta(minutes=2)
REPEAT = timedelta(minutes=60)
DIGEST_AT = time(8, 0)
QUIET_START, QUIET_END = time(22, 0), time(7, 0)
REMINDER, FINAL, BREACH = timedelta(hours=1), timedelta(hours=20), timedelta(hours=24)


@dataclass(frozen=True)
class Expected:
    """One email: its notice, recipient address, due time and what it is about."""

    notice: str
    to: str
    at: datetime
    conversations: frozenset[str]
    messages: int = 0
    """For new-message: how many messages it covers (shown plus "and N more")."""


def expected_emails(traffic: Traffic) -> list[Expected]:
    """Every email due in [START, END], ordered by time."""
    found = _new_message_emails(traffic) + _digests(traffic) + _response_emails(traffic)
    return sorted((e for e in found if START <= e.at <= END), key=lambda e: (e.at, e.notice, e.to, sorted(e.conversations)))


# --- New-message emails ----------------------------------------------------------------------------


def _new_message_emails(traffic: Traffic) -> list[Expected]:
    emails = []
    for (user_id, conversation), events in _per_participant(traffic).items():
        if traffic.users[user_id].notify == "immediate":
            emails += _streak_emails(traffic.users[user_id].email, conversation, events)
    return emails


def _per_participant(traffic: Traffic) -> dict[tuple[str, str], list[tuple[datetime, str]]]:
    """For each (participant, conversation): ("message", at) for the other party's messages, ("read", at) for theirs."""
    timeline: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
    for event in traffic.events:
        conv = traffic.conversations[event.conversation]
        if isinstance(event, SimRead):
            timeline[(event.user, conv.id)].append((event.at, "read"))
        else:
            other = conv.seller if event.sender == conv.buyer else conv.buyer
            timeline[(other, conv.id)].append((event.at, "message"))
            timeline[(event.sender, conv.id)].append((event.at, "read"))  # replying counts as reading
    return timeline


def _streak_emails(address: str, conversation: str, events: list[tuple[datetime, str]]) -> list[Expected]:
    emails: list[Expected] = []
    unread: list[datetime] = []
    emailed_at: datetime | None = None
    emailed_through: datetime | None = None

    def due() -> datetime | None:
        fresh = [m for m in unread if emailed_through is None or m > emailed_through]
        if not fresh:
            return None
        return max(fresh[0] + DELAY, emailed_at + REPEAT) if emailed_at else fresh[0] + DELAY

    for at, kind in sorted(events) + [(END + timedelta(days=1), "end")]:
        # Fire every email due before this event (an event at the due time itself counts as first).
        while (when := due()) is not None and when < at:
            emails.append(Expected("new-message", address, when, frozenset({conversation}), len(unread)))
            emailed_at, emailed_through = when, unread[-1]
        if kind == "message":
            unread.append(at)
        elif kind == "read":
            unread, emailed_at, emailed_through = [], None, None
    return emails


# --- Daily digests -------------------------------------------------------------------------------


def _digests(traffic: Traffic) -> list[Expected]:
    timelines = _per_participant(traffic)
    by_user: dict[str, list[tuple[str, list[tuple[datetime, str]]]]] = defaultdict(list)
    for (user_id, conversation), events in timelines.items():
        by_user[user_id].append((conversation, sorted(events)))
    emails = []
    for user_id, conversations in by_user.items():
        user = traffic.users[user_id]
        if user.notify != "daily":
            continue
        for moment in _local_mornings(ZoneInfo(user.timezone)):
            unread = frozenset(c for c, events in conversations if _unread_at(events, moment))
            if unread:
                emails.append(Expected("new-message-digest", user.email, moment, unread))
    return emails


def _local_mornings(zone: ZoneInfo) -> list[datetime]:
    day = (START - timedelta(days=1)).astimezone(zone).date()
    moments = []
    while (moment := datetime.combine(day, DIGEST_AT, tzinfo=zone).astimezone(START.tzinfo)) <= END:
        if moment >= START:
            moments.append(moment)
        day += timedelta(days=1)
    return moments


def _unread_at(events: list[tuple[datetime, str]], moment: datetime) -> bool:
    last_read = max((at for at, kind in events if kind == "read" and at <= moment), default=None)
    return any(kind == "message" and at <= moment and (last_read is None or at > last_read) for at, kind in events)


# --- Response-time emails -----------------------------------------------------------------------------


def _response_emails(traffic: Traffic) -> list[Expected]:
    # (seller, stage, due time) -> conversations: several due at once become one email.
    groups: dict[tuple[str, str, datetime], set[str]] = defaultdict(set)
    for conv in traffic.conversations.values():
        seller = traffic.users[conv.seller]
        if seller.away:
            continue
        messages = [e for e in traffic.events if isinstance(e, SimMessage) and e.conversation == conv.id]
        for started, answered in _obligations(messages, conv.seller):
            for notice, at in _stages(started, ZoneInfo(seller.timezone)):
                if answered is None or answered > at:
                    groups[(seller.email, notice, at)].add(conv.id)
    return [Expected(notice, to, at, frozenset(convs)) for (to, notice, at), convs in groups.items()]


def reminder_instants(traffic: Traffic) -> set[datetime]:
    """Every obligation's start + 1 h, held or not: where a wrong quiet-hours decision would send a reminder."""
    instants = set()
    for conv in traffic.conversations.values():
        messages = [e for e in traffic.events if isinstance(e, SimMessage) and e.conversation == conv.id]
        instants |= {started + REMINDER for started, _ in _obligations(messages, conv.seller)}
    return {at for at in instants if START <= at <= END}


def _obligations(messages: list[SimMessage], seller: str) -> list[tuple[datetime, datetime | None]]:
    """(start, answer or None) per obligation: from the oldest unanswered buyer message to the next seller message."""
    obligations: list[tuple[datetime, datetime | None]] = []
    started: datetime | None = None
    for message in sorted(messages, key=lambda m: m.at):
        if message.sender != seller and started is None:
            started = message.at
        elif message.sender == seller and started is not None:
            obligations.append((started, message.at))
            started = None
    if started is not None:
        obligations.append((started, None))
    return obligations


def _stages(started: datetime, zone: ZoneInfo) -> list[tuple[str, datetime]]:
    reminder = started + REMINDER
    if _quiet(reminder, zone):
        reminder = _quiet_end(reminder, zone)
    stages = [("response-final-warning", started + FINAL), ("response-breach", started + BREACH)]
    if reminder < started + FINAL:
        stages.insert(0, ("response-reminder", reminder))
    return stages


def _quiet(moment: datetime, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone).time()
    return local >= QUIET_START or local < QUIET_END


def _quiet_end(moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_END, tzinfo=zone).astimezone(moment.tzinfo)
