"""The pure incident rule: findings sharing messages (transitively) form one incident."""

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from pipeline.review import ItemCandidate, ReviewPolicy, group_incidents, incident_key, joins_item, surviving_item

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
message_sets = st.lists(st.frozensets(st.integers(1, 30), max_size=6), max_size=25)


def _as_sets(sets, groups):
    """The grouping as a set of incidents, each a multiset-free frozenset of (index-free) message sets."""
    return {frozenset((i, sets[i]) for i in group) for group in groups}


@given(message_sets)
def test_grouping_is_a_partition_of_the_findings(sets):
    groups = group_incidents(sets)
    indexes = [i for group in groups for i in group]
    assert sorted(indexes) == list(range(len(sets)))
    assert all(group and group == sorted(group) for group in groups)


@given(message_sets)
def test_findings_sharing_a_message_are_in_one_incident(sets):
    incident_of = {i: n for n, group in enumerate(group_incidents(sets)) for i in group}
    for i, first in enumerate(sets):
        for j, second in enumerate(sets):
            if first & second:
                assert incident_of[i] == incident_of[j]


@given(message_sets)
def test_incidents_share_no_message_and_cannot_be_split(sets):
    groups = group_incidents(sets)
    messages = [frozenset().union(*(sets[i] for i in group)) for group in groups]
    for n, first in enumerate(messages):
        assert not any(first & second for second in messages[n + 1:])
    # Minimal: within an incident every finding is reachable from the first through shared messages.
    for group in groups:
        reached, frontier = {group[0]}, [group[0]]
        while frontier:
            current = frontier.pop()
            for other in group:
                if other not in reached and sets[current] & sets[other]:
                    reached.add(other)
                    frontier.append(other)
        assert reached == set(group)


@given(message_sets, st.randoms(use_true_random=False))
def test_grouping_does_not_depend_on_the_order_of_findings(sets, random):
    order = list(range(len(sets)))
    random.shuffle(order)
    shuffled = [sets[i] for i in order]
    regrouped = [[order[i] for i in group] for group in group_incidents(shuffled)]
    assert _as_sets(sets, group_incidents(sets)) == _as_sets(sets, regrouped)


def test_a_split_phone_and_its_text_me_are_one_incident_and_separate_attempts_are_two():
    # Window finding over messages 11, 12, 13 and the "text me" intent in message 13; later a
    # second attempt in messages 20 and 21 of the same conversation.
    assert group_incidents([[11, 12, 13], [13], [20, 21], [21]]) == [[0, 1], [2, 3]]
    # A chain: each window shares a message with the next.
    assert group_incidents([[5, 6], [7, 8], [6, 7]]) == [[0, 1, 2]]


def test_incident_keys_name_the_conversation_lowest_message_and_first_finding():
    assert incident_key(4, [13, 11, 12], 90) == "incident:4:11:90"


def test_joining_pending_and_recently_decided_items_but_not_old_or_merged_ones():
    policy = ReviewPolicy(window_days=90)
    assert joins_item("pending", None, NOW, policy)
    assert joins_item("confirmed", NOW - timedelta(days=89), NOW, policy)
    assert joins_item("dismissed", NOW - timedelta(hours=1), NOW, policy)
    assert not joins_item("confirmed", NOW - timedelta(days=91), NOW, policy)
    assert not joins_item("merged", NOW, NOW, policy)


def test_the_item_that_gave_a_strike_survives_a_merge_else_the_oldest():
    assert surviving_item([ItemCandidate(7, False), ItemCandidate(3, False)]) == 3
    assert surviving_item([ItemCandidate(3, False), ItemCandidate(7, True), ItemCandidate(9, True)]) == 7
