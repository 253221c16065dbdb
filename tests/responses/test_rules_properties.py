"""Property tests: obligations do not depend on input order and never overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.responses import ResponsePolicy, SellerProfile, Stage, TimelineMessage, decide_stage, obligations_from_timeline

T0 = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=3)

timelines = st.lists(
    st.tuples(st.sampled_from(["buyer", "seller", "staff"]), st.integers(min_value=0, max_value=6 * 24 * 60)),
    max_size=30,
).map(lambda items: [TimelineMessage(i + 1, role, T0 + timedelta(minutes=m)) for i, (role, m) in enumerate(items)])


@given(timelines, st.randoms())
def test_order_of_input_does_not_matter(messages, rnd):
    shuffled = list(messages)
    rnd.shuffle(shuffled)
    assert obligations_from_timeline(messages, NOW) == obligations_from_timeline(shuffled, NOW)


@given(timelines)
def test_obligations_are_ordered_disjoint_and_only_the_last_is_open(messages):
    obligations = obligations_from_timeline(messages, NOW).obligations
    for earlier, later in pairwise(obligations):
        assert earlier.answered_at is not None and earlier.answered_at <= later.started_at
    for obligation in obligations:
        assert obligation.response_seconds is None or obligation.response_seconds >= 0
        assert obligation.started_at <= NOW


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=48 * 60), st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Bad/Zone"]))
def test_next_due_is_always_in_the_future_so_the_sweep_cannot_spin(minutes, zone):
    seller = SellerProfile(1, "s@example.com", timezone=zone)
    now = T0 + timedelta(minutes=minutes)
    stage = Stage.NONE
    for _ in range(5):
        decision = decide_stage(T0, stage, seller, now, ResponsePolicy())
        assert decision.next_due_at is None or decision.next_due_at > now
        if decision.stage is None:
            break
        stage = decision.stage
