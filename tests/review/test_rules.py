"""The pure review rules: severity, priority with aging, escalation, Wilson intervals."""

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.review import (
    Escalation,
    ReviewPolicy,
    SignalDecision,
    SignalFacts,
    base_priority,
    detector_precision,
    effective_priority,
    escalation_for,
    is_high_severity,
    mark_spans,
    median,
    most_severe_kind,
    queue_rank,
    wilson_interval,
)
from usecases.settings import Settings, SettingsError

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def test_severity_orders_payment_over_contact_over_intent():
    assert most_severe_kind(["intent", "phone", "payment"]) == "payment"
    assert most_severe_kind(["intent", "url"]) == "url"
    assert base_priority("payment", 0.0, 0) > base_priority("phone", 1.0, 5) > base_priority("intent", 1.0, 5)


def test_score_and_strikes_move_items_within_a_severity_band():
    assert base_priority("phone", 0.9, 0) > base_priority("phone", 0.6, 0)
    assert base_priority("phone", 0.6, 2) > base_priority("phone", 0.6, 0)
    # Strikes beyond five add nothing: the band stays bounded.
    assert base_priority("phone", 0.6, 9) == base_priority("phone", 0.6, 5)
    assert base_priority("phone", 1.0, 0) == 220.0


def test_stored_rank_orders_like_the_effective_priority_at_any_time():
    old = queue_rank("intent", 0.5, 0, NOW - timedelta(days=60))
    fresh = queue_rank("phone", 0.5, 0, NOW)
    # After 60 days waiting an intent flag (110 + 120) overtakes a fresh contact attempt (210).
    assert old > fresh
    assert effective_priority(old, NOW) == pytest.approx(110 + 2 * 60)
    assert effective_priority(fresh, NOW) == pytest.approx(210)
    later = NOW + timedelta(days=10)
    assert effective_priority(old, later) - effective_priority(fresh, later) == pytest.approx(20)


def test_older_item_wins_a_tie_of_base_priority():
    assert queue_rank("email", 0.8, 1, NOW - timedelta(hours=1)) > queue_rank("email", 0.8, 1, NOW)


def test_high_severity_is_payment_with_an_identifier_or_a_restricted_sender():
    assert is_high_severity([SignalFacts("payment", "iban", 0.97)], False)
    assert is_high_severity([SignalFacts("payment", "cashapp:$goldbug", 0.9)], False)
    assert is_high_severity([SignalFacts("payment", "zelle", 0.9), SignalFacts("phone", "+15125550100", 0.9)], False)
    assert not is_high_severity([SignalFacts("payment", "zelle", 0.9)], False)
    assert not is_high_severity([SignalFacts("phone", "+15125550100", 0.9)], False)
    assert is_high_severity([SignalFacts("intent", "move_off_platform", 0.5)], True)


def test_escalation_steps_happen_exactly_at_their_thresholds():
    policy = ReviewPolicy()
    assert escalation_for(1, policy) == Escalation(warn=True)
    assert escalation_for(2, policy) == Escalation()
    assert escalation_for(3, policy) == Escalation(restrict=True)
    assert escalation_for(5, policy) == Escalation(recommend_suspension=True)
    assert escalation_for(6, policy) == Escalation()


def test_policy_is_configurable_and_validated():
    policy = Settings.from_environment({"PEERGUARD_STRIKE_WINDOW_DAYS": "30", "PEERGUARD_STRIKE_RESTRICT_AT": "2"}).review
    assert (policy.window_days, policy.restrict_at, policy.suspend_at) == (30, 2, 5)
    with pytest.raises(SettingsError, match="PEERGUARD_CLAIM_MINUTES"):
        Settings.from_environment({"PEERGUARD_CLAIM_MINUTES": "soon"})
    with pytest.raises(SettingsError, match="at least 1"):
        Settings.from_environment({"PEERGUARD_STRIKE_WARN_AT": "0"})
    with pytest.raises(ValueError):
        ReviewPolicy(warn_at=0)


@pytest.mark.parametrize(("successes", "trials", "low", "high"), [
    # Reference values: Newcombe (1998), Statistics in Medicine 17, 857-872, table I (method 3).
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (8, 10, 0.4902, 0.9433),
])
def test_wilson_interval_matches_published_values(successes, trials, low, high):
    interval = wilson_interval(successes, trials)
    assert interval == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_without_trials_is_none():
    assert wilson_interval(0, 0) is None


def test_detector_precision_counts_items_not_signals_and_ignores_ignored():
    rows = [
        SignalDecision("phone", "v1", 1, "confirmed", 60.0),
        SignalDecision("phone", "v1", 1, "confirmed", 60.0),  # a second signal on the same item
        SignalDecision("phone", "v1", 2, "dismissed", 180.0),
        SignalDecision("phone", "v1", 3, "ignored", 120.0),
        SignalDecision("phone", "v1", 4, None, None),
        SignalDecision("phone", "v2", 5, "confirmed", 10.0),
    ]
    v1, v2 = detector_precision(rows)
    assert (v1.items, v1.confirmed, v1.dismissed, v1.ignored) == (4, 1, 1, 1)
    assert v1.precision == 0.5
    assert v1.interval == pytest.approx(wilson_interval(1, 2))
    assert v1.median_seconds_to_decision == 90.0
    assert (v2.detector_version, v2.precision) == ("v2", 1.0)


def test_median():
    assert median([]) is None
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5


def test_mark_spans_merges_overlaps_and_clamps():
    assert mark_spans("call 555 0100 now", [(5, 13)]) == "call [[555 0100]] now"
    assert mark_spans("abcdef", [(1, 3), (2, 4), (10, 12)]) == "a[[bcd]]ef"
