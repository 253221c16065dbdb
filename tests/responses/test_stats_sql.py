"""`sellers stats` on PostgreSQL: the database's per-seller summary (storage.response_stats.seller_summaries)
equals the pure rule's (pipeline.responses.summarise) on generated records, boundaries included, so the
command prints the same bytes as when every record was read and summarised in Python; and the pure
rule, split into summarise + stats_from_summary, still computes what statistics.median and the shares did."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from pipeline.responses import ResponsePolicy, ResponseRecord, SellerResponseStats, seller_stats, stats_from_summary, summarise
from storage import direct, migrations
from storage.db import SessionReader, transaction
from storage.models import Conversation, Message, User
from storage.response_stats import seller_records, seller_summaries
from usecases.response_stats import seller_rows

NOW = datetime(2026, 12, 6, 12, 0, 0, 654321, tzinfo=UTC)
SELLERS = 4
MESSAGES = 40  # per seller: each deadline needs its own starting message
POLICIES = [
    ResponsePolicy(),
    ResponsePolicy(reminder_after=timedelta(minutes=37), final_warning_after=timedelta(minutes=600),
                   breach_after=timedelta(minutes=1441), stats_window=timedelta(days=3)),
]


def _reference_stats(records, now, policy) -> SellerResponseStats:
    """seller_stats as it was written before the split (statistics.median, shares of decided records)."""
    window = [r for r in records if not r.away and now - policy.stats_window <= r.started_at <= now]
    seconds = [(r.answered_at - r.started_at).total_seconds() for r in window if r.answered_at is not None]

    def share(limit):
        decided = [r for r in window if r.answered_at is not None or now - r.started_at > limit]
        if not decided:
            return None
        return sum(1 for r in decided if r.answered_at is not None and r.answered_at - r.started_at <= limit) / len(decided)

    return SellerResponseStats(len(window), len(seconds), statistics.median(seconds) if seconds else None,
                               share(policy.reminder_after), share(policy.breach_after))


def _offsets(policy: ResponsePolicy):
    """Start times around every edge the rule has: the window's ends, now - target, now - limit (to the microsecond)."""
    edges = [timedelta(0), policy.stats_window, policy.reminder_after, policy.breach_after]
    exact = st.sampled_from(edges).flatmap(
        lambda edge: st.sampled_from([edge - timedelta(microseconds=1), edge, edge + timedelta(microseconds=1)]))
    anywhere = st.integers(-86_400_000_000, int((policy.stats_window + timedelta(days=2)).total_seconds() * 1e6)).map(
        lambda us: timedelta(microseconds=us))
    return st.one_of(exact, anywhere)


def _spans(policy: ResponsePolicy):
    """Response times: none, around the target and the limit, equal ones (ties), anything up to 40 h."""
    edges = [policy.reminder_after, policy.breach_after, timedelta(minutes=5), timedelta(0)]
    exact = st.sampled_from(edges).flatmap(
        lambda edge: st.sampled_from([edge - timedelta(microseconds=1), edge, edge + timedelta(microseconds=1)]))
    anywhere = st.integers(-1_000_000, 40 * 3600 * 1_000_000).map(lambda us: timedelta(microseconds=us))
    return st.one_of(st.none(), exact, anywhere)


@st.composite
def deadlines(draw):
    policy = draw(st.sampled_from(POLICIES))
    drawn = draw(st.lists(st.tuples(st.integers(0, SELLERS - 1), _offsets(policy), _spans(policy), st.booleans(),
                                    st.booleans()), max_size=MESSAGES))
    return policy, [(seller, NOW - ago, span, away, superseded and n % 3 == 0)
                    for n, (seller, ago, span, away, superseded) in enumerate(drawn)]


@pytest.fixture
def marketplace(pg_url, tmp_path):
    """Sellers (one without an email), a conversation each, and messages for deadlines to start from."""
    from storage.db import make_engine, make_session_factory

    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        buyer = User(external_id="u-0", name="Bea", email="bea@example.com")
        sellers = [User(external_id=f"u-{n + 1}", name=f"Seller {n}", email=None if n == 2 else f"S{n}@example.com")
                   for n in range(SELLERS)]
        session.add_all([buyer, *sellers])
        session.flush()
        conversations = [Conversation(external_id=f"c-{n}", buyer_id=buyer.id, seller_id=s.id) for n, s in enumerate(sellers)]
        session.add_all(conversations)
        session.flush()
        messages = {}
        for n, conversation in enumerate(conversations):
            for k in range(MESSAGES):
                message = Message(external_id=f"m-{n}-{k}", conversation_id=conversation.id, sender_id=buyer.id,
                                  body="?", sent_at=NOW, recorded_at=NOW)
                session.add(message)
                session.flush()
                messages[n, k] = message.id
        ids = {"sellers": [s.id for s in sellers], "conversations": [c.id for c in conversations], "messages": messages}
    reader = direct.connect_if_current(pg_url, migrations.head_revision())
    assert reader is not None and reader.dialect == "postgresql"
    with reader:
        yield factory, reader, ids
    engine.dispose()


def _store(factory, ids, rows) -> None:
    with transaction(factory) as session:
        session.execute(text("DELETE FROM response_deadlines"))
        for k, (seller, started, span, away, superseded) in enumerate(rows):
            session.execute(text(
                "INSERT INTO response_deadlines (conversation_id, seller_id, started_at, started_by_message_id, answered_at,"
                " stage_sent, away, superseded_at) VALUES (:c, :s, :started, :m, :answered, 0, :away, :superseded)"),
                {"c": ids["conversations"][seller], "s": ids["sellers"][seller], "started": started,
                 "m": ids["messages"][seller, k], "answered": None if span is None else started + span, "away": away,
                 "superseded": NOW if superseded else None})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deadlines())
def test_the_database_summary_equals_the_pure_rule(marketplace, drawn):
    factory, reader, ids = marketplace
    policy, rows = drawn
    _store(factory, ids, rows)
    since = NOW - policy.stats_window
    expected = {s.seller_id: (s.external_id, s.email, s.name, summarise(s.records, NOW, policy))
                for s in seller_records(reader, since, NOW)}
    with factory() as session:
        for on in (reader, SessionReader(session)):
            found = {s.seller_id: (s.external_id, s.email, s.name, s.summary) for s in seller_summaries(on, NOW, policy)}
            assert found == expected
            # What the command prints comes from these rows: the same statistics as the Python path.
            assert [(r.seller_id, r.stats) for r in seller_rows(on, policy, NOW)] == [
                (seller_id, stats_from_summary(summary)) for seller_id, (*_, summary) in sorted(expected.items())]
    for email in ("s1@EXAMPLE.com", "nobody@example.com"):
        one = {s.seller_id: s.summary for s in seller_summaries(reader, NOW, policy, email)}
        assert one == {s.seller_id: summarise(s.records, NOW, policy) for s in seller_records(reader, since, NOW, email)}


def test_a_seller_with_only_away_obligations_is_listed_with_nothing_counted(marketplace):
    factory, reader, ids = marketplace
    _store(factory, ids, [(0, NOW - timedelta(days=1), timedelta(minutes=5), True, False),
                          (1, NOW - timedelta(days=2), None, False, False)])
    found = {s.seller_id: s.summary for s in seller_summaries(reader, NOW, ResponsePolicy())}
    assert found[ids["sellers"][0]].obligations == 0 and found[ids["sellers"][0]].middle_seconds == ()
    assert found[ids["sellers"][1]].decided_limit == 1 and found[ids["sellers"][1]].within_limit == 0


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(POLICIES).flatmap(lambda policy: st.tuples(st.just(policy), st.lists(st.tuples(
    _offsets(policy), _spans(policy), st.booleans()), max_size=30))))
def test_the_split_rule_computes_what_the_single_function_did(drawn):
    policy, rows = drawn
    records = [ResponseRecord(NOW - ago, None if span is None else NOW - ago + span, away) for ago, span, away in rows]
    assert seller_stats(records, NOW, policy) == _reference_stats(records, NOW, policy)
