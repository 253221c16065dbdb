"""The pure new-message rules: streak, delay, repeat, read before send, scan wait, 5 shown, digest at 08:00 local."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.notifications import (
    NotificationPolicy,
    UnreadMessage,
    decide_new_message_email,
    digest_day,
    digest_time,
    email_due_at,
)

POLICY = NotificationPolicy()
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def msg(i: int, at: datetime, text: str | None = "hi", attachments: tuple[str, ...] = ()) -> UnreadMessage:
    return UnreadMessage(i, f"m-{i}", "Bea", at, text, attachments)


def decide(unread, now, emailed_through=None, emailed_at=None, notify="immediate", has_address=True):
    return decide_new_message_email(unread, emailed_through, emailed_at, notify, has_address, now, POLICY)


def test_first_email_waits_the_delay_after_the_first_unread_message():
    unread = [msg(1, T0), msg(2, minutes(1))]
    waiting = decide(unread, minutes(1.9))
    assert not waiting.send and waiting.next_due_at == minutes(2) and waiting.reason == "not yet"
    due = decide(unread, minutes(2))
    assert due.send and [m.external_id for m in due.shown] == ["m-1", "m-2"] and due.more == 0
    assert due.first_new.external_id == "m-1" and due.through == minutes(1)


def test_read_before_the_delay_sends_nothing():
    assert decide([], minutes(5)) == (False, None, "read", (), 0, None, None)


def test_a_second_email_in_the_streak_needs_newer_messages_and_the_repeat_interval():
    first = [msg(1, T0)]
    assert decide(first, minutes(30), emailed_through=T0, emailed_at=minutes(2)).reason == "already emailed"
    more = first + [msg(2, minutes(10))]
    held = decide(more, minutes(30), emailed_through=T0, emailed_at=minutes(2))
    assert not held.send and held.next_due_at == minutes(62)
    again = decide(more, minutes(62), emailed_through=T0, emailed_at=minutes(2))
    assert again.send and again.first_new.external_id == "m-2"
    # The repeat email still covers everything unread, the earlier message included.
    assert [m.external_id for m in again.shown] == ["m-1", "m-2"]


def test_due_time_is_the_later_of_delay_and_repeat():
    assert email_due_at(T0, None, POLICY) == minutes(2)
    assert email_due_at(minutes(100), minutes(0), POLICY) == minutes(102)
    assert email_due_at(minutes(10), minutes(0), POLICY) == minutes(60)


def test_an_unscanned_message_holds_the_email_until_it_is_scanned():
    unread = [msg(1, T0), msg(2, minutes(1), text=None)]
    held = decide(unread, minutes(5))
    assert not held.send and held.reason == "waiting for scan" and held.next_due_at == minutes(5) + POLICY.scan_wait


def test_five_are_shown_and_the_rest_counted():
    unread = [msg(i, minutes(i)) for i in range(8, 0, -1)]  # any order in, oldest first out
    decision = decide(unread, minutes(20))
    assert [m.message_id for m in decision.shown] == [1, 2, 3, 4, 5] and decision.more == 3
    assert decision.through == minutes(8)


@pytest.mark.parametrize("notify, address, reason", [("daily", True, "notify daily"), ("off", True, "notify off"),
                                                      ("immediate", False, "no address")])
def test_daily_off_and_addressless_users_get_no_new_message_email(notify, address, reason):
    decision = decide([msg(1, T0)], minutes(10), notify=notify, has_address=address)
    assert not decision.send and decision.next_due_at is None and decision.reason == reason


def test_policy_refuses_non_positive_intervals():
    with pytest.raises(ValueError):
        NotificationPolicy(delay=timedelta(0))


# --- The digest -----------------------------------------------------------------------------------

NEW_YORK = ZoneInfo("America/New_York")


def test_digest_is_at_eight_local_on_both_sides_of_dst():
    assert digest_time(date(2026, 3, 7), NEW_YORK, POLICY) == datetime(2026, 3, 7, 13, 0, tzinfo=UTC)  # EST
    assert digest_time(date(2026, 3, 8), NEW_YORK, POLICY) == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # EDT, the change day
    assert digest_time(date(2026, 11, 1), NEW_YORK, POLICY) == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # back to EST


def test_digest_day_is_due_once_per_local_day():
    before = datetime(2026, 3, 8, 11, 59, tzinfo=UTC)
    at = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert digest_day(before, NEW_YORK, None, POLICY) is None
    assert digest_day(at, NEW_YORK, None, POLICY) == date(2026, 3, 8)
    assert digest_day(at + timedelta(hours=5), NEW_YORK, date(2026, 3, 8), POLICY) is None
    # 03:30 UTC on the 9th is still the 8th in New York: that day's digest is done.
    assert digest_day(datetime(2026, 3, 9, 3, 30, tzinfo=UTC), NEW_YORK, date(2026, 3, 8), POLICY) is None
    assert digest_day(datetime(2026, 3, 9, 12, 0, tzinfo=UTC), NEW_YORK, date(2026, 3, 8), POLICY) == date(2026, 3, 9)


def test_a_digest_hour_inside_a_dst_gap_moves_forward():
    early = NotificationPolicy(digest_at=time(2, 30))
    assert digest_time(date(2026, 3, 8), NEW_YORK, early) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
