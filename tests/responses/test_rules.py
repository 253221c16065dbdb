"""Pure response-time rules: obligations, stages, quiet hours, bad input, statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.responses import (
    Delivery,
    ResponsePolicy,
    ResponseRecord,
    SellerProfile,
    Stage,
    TimelineMessage,
    decide_stage,
    obligations_from_timeline,
    quiet_hours_end,
    resolve_zone,
    seller_stats,
)
from usecases.settings import Settings, SettingsError

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
POLICY = ResponsePolicy()
SELLER = SellerProfile(seller_id=7, email="seller@example.com", timezone="UTC")


def msg(mid: int, role: str, minutes: float) -> TimelineMessage:
    return TimelineMessage(mid, role, T0 + timedelta(minutes=minutes))


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_clock_starts_at_oldest_unanswered_buyer_message_and_is_not_restarted():
    result = obligations_from_timeline([msg(1, "buyer", 0), msg(2, "buyer", 30), msg(3, "seller", 90)], h(5))
    (ob,) = result.obligations
    assert (ob.started_by, ob.answered_by, ob.response_seconds) == (1, 3, 90 * 60)


def test_each_answer_closes_one_obligation_and_a_new_buyer_message_opens_the_next():
    result = obligations_from_timeline(
        [msg(1, "buyer", 0), msg(2, "seller", 10), msg(3, "buyer", 20), msg(4, "buyer", 25)], h(5)
    )
    assert [o.started_by for o in result.obligations] == [1, 3]
    assert result.open_obligation is not None and result.open_obligation.started_by == 3


def test_out_of_order_messages_are_sorted_by_date_then_id():
    result = obligations_from_timeline([msg(3, "seller", 90), msg(1, "buyer", 0), msg(2, "buyer", 30)], h(5))
    assert [(o.started_by, o.answered_by) for o in result.obligations] == [(1, 3)]


def test_seller_writing_first_owes_nothing_until_the_buyer_writes():
    assert obligations_from_timeline([msg(1, "seller", 0)], h(1)).obligations == ()
    result = obligations_from_timeline([msg(1, "seller", 0), msg(2, "buyer", 5)], h(1))
    assert [o.started_by for o in result.obligations] == [2]


def test_staff_and_system_messages_are_ignored():
    result = obligations_from_timeline([msg(1, "buyer", 0), msg(2, "staff", 5)], h(1))
    assert result.open_obligation is not None


def test_message_dated_in_the_future_is_clamped_to_now_and_reported():
    now = h(1)
    result = obligations_from_timeline([msg(1, "buyer", 0), msg(2, "seller", 600)], now)
    assert result.future_message_ids == (2,)
    assert result.obligations[0].answered_at == now


def test_naive_datetimes_are_taken_as_utc():
    naive = TimelineMessage(1, "buyer", datetime(2026, 6, 1, 12, 0))
    assert obligations_from_timeline([naive], h(1)).obligations[0].started_at == T0


@pytest.mark.parametrize(
    ("hours", "sent", "expected"),
    [
        (0.5, Stage.NONE, None),
        (1, Stage.NONE, Stage.REMINDER),
        (5, Stage.REMINDER, None),
        (20, Stage.REMINDER, Stage.FINAL_WARNING),
        (30, Stage.NONE, Stage.BREACH),  # only the latest due stage is sent
        (30, Stage.BREACH, None),
    ],
)
def test_latest_due_stage(hours, sent, expected):
    decision = decide_stage(T0, sent, SELLER, h(hours), POLICY)
    assert decision.stage == expected


def test_skipped_stages_are_reported_and_next_due_is_the_following_stage():
    decision = decide_stage(T0, Stage.NONE, SELLER, h(21), POLICY)
    assert decision.stage == Stage.FINAL_WARNING
    assert decision.skipped == (Stage.REMINDER,)
    assert decision.next_due_at == h(24)
    assert decide_stage(T0, Stage.NONE, SELLER, h(25), POLICY).next_due_at is None


def test_nothing_due_reports_when_to_look_again():
    assert decide_stage(T0, Stage.NONE, SELLER, h(0.5), POLICY).next_due_at == h(1)


def test_reminder_in_quiet_hours_is_held_until_seven_local():
    # 21:30 UTC buyer message: reminder due 22:30 UTC, which is quiet in UTC.
    start = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)
    decision = decide_stage(start, Stage.NONE, SELLER, start + timedelta(hours=1), POLICY)
    assert decision.stage is None
    assert decision.held_until == decision.next_due_at == datetime(2026, 6, 2, 7, 0, tzinfo=UTC)
    released = decide_stage(start, Stage.NONE, SELLER, decision.next_due_at, POLICY)
    assert released.stage == Stage.REMINDER and released.delivery == Delivery.SEND


def test_final_warning_and_breach_are_never_held():
    start = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)  # +20 h = 23:00 UTC, quiet
    decision = decide_stage(start, Stage.REMINDER, SELLER, start + timedelta(hours=20), POLICY)
    assert decision.stage == Stage.FINAL_WARNING


def test_quiet_hours_use_the_sellers_zone():
    tokyo = SellerProfile(7, "s@example.com", timezone="Asia/Tokyo")
    start = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # reminder 03:00 UTC = 12:00 JST, not quiet
    assert decide_stage(start, Stage.NONE, tokyo, start + timedelta(hours=1), POLICY).stage == Stage.REMINDER
    start = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)  # reminder 15:00 UTC = 00:00 JST, quiet
    held = decide_stage(start, Stage.NONE, tokyo, start + timedelta(hours=1), POLICY)
    assert held.held_until == datetime(2026, 6, 1, 22, 0, tzinfo=UTC)  # 07:00 JST


def test_quiet_hours_end_across_spring_forward():
    berlin = resolve_zone("Europe/Berlin").zone
    # 23:00 CET on the night the clocks go forward: 07:00 CEST is 05:00 UTC, not 06:00.
    assert quiet_hours_end(datetime(2026, 3, 28, 22, 0, tzinfo=UTC), berlin, POLICY) == datetime(
        2026, 3, 29, 5, 0, tzinfo=UTC
    )


def test_quiet_hours_end_across_fall_back():
    new_york = resolve_zone("America/New_York").zone
    # 23:00 EDT on 31 October; 07:00 EST on 1 November is 12:00 UTC.
    assert quiet_hours_end(datetime(2026, 11, 1, 3, 0, tzinfo=UTC), new_york, POLICY) == datetime(
        2026, 11, 1, 12, 0, tzinfo=UTC
    )


def test_hold_never_outlasts_the_final_warning():
    policy = ResponsePolicy(final_warning_after=timedelta(hours=3), breach_after=timedelta(hours=4))
    start = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)
    held = decide_stage(start, Stage.NONE, SELLER, start + timedelta(hours=1), policy)
    assert held.next_due_at == start + timedelta(hours=3)


def test_invalid_timezone_falls_back_to_utc_with_a_flag():
    assert resolve_zone("Mars/Olympus_Mons").fell_back_to_utc
    assert resolve_zone("../../etc/passwd").fell_back_to_utc
    assert not resolve_zone(None).fell_back_to_utc
    seller = SellerProfile(7, "s@example.com", timezone="Not/AZone")
    decision = decide_stage(T0, Stage.NONE, seller, h(1), POLICY)
    assert decision.zone.fell_back_to_utc and decision.stage == Stage.REMINDER


@pytest.mark.parametrize(
    ("seller", "stage", "delivery"),
    [
        (SellerProfile(7, "s@example.com", away=True), Stage.BREACH, Delivery.SUPPRESSED_AWAY),
        (SellerProfile(7, "s@example.com", reminders_opted_out=True), Stage.REMINDER, Delivery.SUPPRESSED_OPTED_OUT),
        (SellerProfile(7, "s@example.com", reminders_opted_out=True), Stage.FINAL_WARNING, Delivery.SUPPRESSED_OPTED_OUT),
        (SellerProfile(7, "s@example.com", reminders_opted_out=True), Stage.BREACH, Delivery.SEND),
        (SellerProfile(7, None), Stage.REMINDER, Delivery.SUPPRESSED_NO_EMAIL),
        (SellerProfile(7, "   "), Stage.BREACH, Delivery.SUPPRESSED_NO_EMAIL),
    ],
)
def test_delivery_rules(seller, stage, delivery):
    hours = {Stage.REMINDER: 1, Stage.FINAL_WARNING: 20, Stage.BREACH: 24}[stage]
    decision = decide_stage(T0, Stage(stage - 1), seller, h(hours), POLICY)
    assert (decision.stage, decision.delivery) == (stage, delivery)


def test_away_seller_reminder_is_recorded_even_at_night():
    start = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)
    away = SellerProfile(7, "s@example.com", away=True)
    decision = decide_stage(start, Stage.NONE, away, start + timedelta(hours=1), POLICY)
    assert decision.delivery == Delivery.SUPPRESSED_AWAY


def responses_policy(env: dict[str, str]) -> ResponsePolicy:
    return Settings.from_environment(env).responses


def test_policy_from_settings_and_validation():
    policy = responses_policy({"PEERGUARD_RESPONSE_REMINDER_MINUTES": "30", "PEERGUARD_QUIET_HOURS": "23:00-06:30"})
    assert policy.reminder_after == timedelta(minutes=30)
    assert (policy.quiet_start.hour, policy.quiet_end.minute) == (23, 30)
    assert responses_policy({}) == ResponsePolicy()
    with pytest.raises(SettingsError):
        responses_policy({"PEERGUARD_RESPONSE_BREACH_MINUTES": "60"})
    with pytest.raises(SettingsError, match="PEERGUARD_QUIET_HOURS"):
        responses_policy({"PEERGUARD_QUIET_HOURS": "late"})
    with pytest.raises(SettingsError, match="PEERGUARD_RESPONSE_STATS_DAYS"):
        responses_policy({"PEERGUARD_RESPONSE_STATS_DAYS": "-1"})
    with pytest.raises(ValueError):
        ResponsePolicy(reminder_after=timedelta(hours=30))


def test_seller_stats_median_and_shares_over_thirty_days():
    now = h(24 * 40)
    recent = now - timedelta(days=2)
    records = [
        ResponseRecord(recent, recent + timedelta(minutes=30)),
        ResponseRecord(recent, recent + timedelta(hours=2)),
        ResponseRecord(recent, recent + timedelta(hours=30)),
        ResponseRecord(recent, None),  # open 2 days: counts against both shares
        ResponseRecord(now - timedelta(minutes=10), None),  # too young to count
        ResponseRecord(recent, recent + timedelta(minutes=1), away=True),  # away: excluded
        ResponseRecord(now - timedelta(days=31), now - timedelta(days=31)),  # outside window
    ]
    stats = seller_stats(records, now, POLICY)
    assert stats.obligations == 5 and stats.answered == 3
    assert stats.median_response_seconds == 2 * 3600
    assert stats.share_within_target == pytest.approx(1 / 4)
    assert stats.share_within_limit == pytest.approx(2 / 4)


def test_seller_stats_with_nothing_to_measure():
    stats = seller_stats([], T0, POLICY)
    assert stats.as_dict() == {
        "obligations": 0, "answered": 0, "median_response_seconds": None,
        "share_within_1h": None, "share_within_24h": None,
    }
