"""The importer's lookups by lists of keys (``bulk.member_of_set``): the rows of ``IN``, planned as a semi-join.

On PostgreSQL a statement run often is prepared and planned once for any list (a generic plan);
``column = ANY(:list)`` then compares every row with every key in turn (the ingest's lookup of 500
conversations among 2,000 cost 8-25 ms a batch), where ``IN (SELECT unnest(:list))`` is hashed or
probed through the index.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from storage import bulk
from storage import messaging as store
from storage import notifications as notification_store
from storage.db import is_postgres, make_engine
from storage.models import Conversation


def _seed(session, conversations: int) -> None:
    store.insert_rows(session, "user", [{"external_id": f"u-{i}", "name": f"U{i}", "email": None}
                                        for i in range(conversations + 1)])
    users = store.user_ids(session, [f"u-{i}" for i in range(conversations + 1)])
    store.insert_rows(session, "conversation", [
        {"external_id": f"c-{i}", "buyer_id": users[f"u-{i}"], "seller_id": users[f"u-{i + 1}"], "subject": None,
         "order_ref": None} for i in range(conversations)])


def test_lookups_find_the_listed_rows_once_each_with_repeats_and_unknown_keys(db_url):
    engine = make_engine(db_url)
    try:
        with sessionmaker(engine)() as session, session.begin():
            _seed(session, 30)
            wanted = ["c-3", "c-7", "c-3", "c-nope", "c-29", "c-7"]
            found = store.conversations_with_participants(session, wanted)
            assert sorted(found) == ["c-29", "c-3", "c-7"]
            assert (found["c-7"].buyer, found["c-7"].seller) == ("u-7", "u-8")
            assert sorted(store.users_by_external_id(session, ["u-1", "u-1", "u-30", "x"])) == ["u-1", "u-30"]
            assert store.conversations_with_participants(session, []) == {}
            # A key longer than the column is nobody's, not the stored id it starts with.
            store.insert_rows(session, "conversation", [{"external_id": "c" * 128, "buyer_id": found["c-3"].buyer_id,
                                                         "seller_id": found["c-3"].seller_id, "subject": None,
                                                         "order_ref": None}])
            assert list(store.conversations_with_participants(session, ["c" * 128, "c" * 129])) == ["c" * 128]
            assert list(store.conversations_by_external_id(session, ["c" * 129])) == []
            postgres = is_postgres(session)
            c = Conversation.__table__.c
            ids = [found["c-3"].id, found["c-3"].id, found["c-29"].id, 10_000]
            for name, among in (("set", bulk.member_of_set), ("any", bulk.member_of)):
                rows = session.execute(select(c.external_id).where(among(c.id, "ids", postgres)).order_by(c.external_id),
                                       {"ids": ids}).scalars().all()
                assert rows == ["c-29", "c-3"], name
    finally:
        engine.dispose()


def _generic_plan(session, query, keys: str) -> str:
    """EXPLAIN of ``query``'s generic plan (what a prepared statement keeps), its one list parameter as $1."""
    raw = session.connection().connection.driver_connection
    sql = str(query.compile(dialect=session.get_bind().dialect))
    sql = re.sub(r"%\(\w+\)s", "$1", sql)
    raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    raw.execute(f"PREPARE lookup_plan AS {sql}")
    try:
        return "\n".join(line for (line,) in raw.execute(f"EXPLAIN EXECUTE lookup_plan('{keys}')"))
    finally:
        raw.execute("DEALLOCATE lookup_plan")


def test_the_conversation_lookup_never_searches_the_list_row_by_row(pg_url):
    engine = make_engine(pg_url)
    try:
        with sessionmaker(engine)() as session, session.begin():
            _seed(session, 200)
            plan = _generic_plan(session, store._conversations_with_participants_query(True), "{c-1,c-2}")
            assert "ANY" not in plan, plan
            assert "unnest" in plan, plan
            plan = _generic_plan(session, notification_store._load_reads_query(True), "{1,2}")
            assert "ANY" not in plan, plan
    finally:
        engine.dispose()
