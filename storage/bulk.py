"""COPY for PostgreSQL's bulk writes: rows travel as COPY data instead of array parameters.

A set-based write of thousands of rows used to send one array a column (``unnest``). psycopg
dumps an array's text in Python, item by item, with a regular expression per item to decide
its quoting: for the importer that cost more CPU than anything else it did. COPY rows are
formatted by psycopg's C code, and the server reads them without parsing array literals. The
rows go to a scratch table (``pg_temp``, private to the connection, emptied at every commit
and before each use); the statement that needs them reads it like any table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import ARRAY, JSON, String, TypeDecorator, any_, bindparam, cast, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

K = TypeVar("K")

COPY_FROM_ROWS = 64
"""Fewer rows than this go as array parameters: COPY costs two more round trips (scratch table, COPY)."""


def copy_to_scratch(session: Session, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]],
                    binary: bool = False) -> None:
    """Fill the scratch table ``table`` (``columns``: name and SQL type) with ``rows``, in the session's transaction.

    ``table`` and the column names and types come from this package's code, never from input.
    ``binary``: in COPY's binary format, the types being names psycopg knows (``integer``,
    ``timestamptz``; not ``varchar(128)``): for rows of numbers and times, a tenth of the client
    CPU of the text format (4,000 notification rows: 21 -> 2 ms), which formats every timestamp.
    """
    # One round trip (simple query protocol): created on first use, emptied of an earlier use in this transaction.
    prepare = (f"CREATE TEMP TABLE IF NOT EXISTS {table} ({', '.join(f'{n} {t}' for n, t in columns)})"
               f" ON COMMIT DELETE ROWS; DELETE FROM pg_temp.{table}")
    copy_into(session, f"pg_temp.{table}", [name for name, _ in columns], rows, prepare,
              [sql_type for _, sql_type in columns] if binary else None)


def copy_into(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
              prepare: str | None = None, binary_types: Sequence[str] | None = None) -> None:
    """COPY ``rows`` into ``table`` (values in the order of ``columns``), after running ``prepare``.

    ``binary_types`` (the columns' PostgreSQL type names, e.g. ``timestamptz``) sends the rows in
    COPY's binary format: no text to format here, escape, or parse on the server (20,000 message
    rows: 58 ms of client CPU in text, 8 in binary; server 22 ms and 13). A refusal is raised as
    SQLAlchemy's DBAPIError, as a statement run through the session would be.
    """
    copy_on(session.connection().connection.driver_connection, table, columns, rows, prepare, binary_types)


def copy_on(raw: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
            prepare: str | None = None, binary_types: Sequence[str] | None = None) -> None:
    """``copy_into`` on the session's psycopg connection itself: what a helper thread may run
    while the session's own thread leaves the session alone."""
    import psycopg  # only PostgreSQL sessions come here

    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN" + (" (FORMAT BINARY)" if binary_types else "")
    try:
        with raw.cursor() as cursor:
            if prepare:
                cursor.execute(prepare)  # no parameters: several statements in one round trip
            with cursor.copy(statement) as copy:
                if binary_types:
                    copy.set_types(list(binary_types))
                for row in rows:
                    copy.write_row(row)
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def lookup_chunks(keys: Sequence[K], postgres: bool) -> Iterator[Sequence[K]]:
    """``keys`` in the slices a lookup sends one query each: SQLite's expanding lists stay under its
    parameter limit (1,000 keys); on PostgreSQL the list is one array parameter (``member_of``), so a
    batch's keys go in one round trip (the importer's lookups of 4,000 notification rows took four,
    each a wait for the server)."""
    step = 100_000 if postgres else 1000
    for start in range(0, len(keys), step):
        yield keys[start : start + step]


def int_array(values: Iterable[int]) -> str:
    """PostgreSQL's text form of an ``integer[]`` (for ``CAST(:p AS integer[])``): one string parameter.

    psycopg dumps a list parameter item by item in Python, with a regular expression per item
    to decide its quoting; a batch's 200 ids as one string cost a twentieth of that.
    """
    return "{" + ",".join(map(str, map(int, values))) + "}"


def text_array(values: Iterable[str | None]) -> str:
    """PostgreSQL's text form of a ``text[]`` (None as NULL), every item quoted: ``int_array`` for texts."""
    return "{" + ",".join("NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for v in values) + "}"


def insert_json_rows(session: Session, table: Any, rows: Sequence[dict[str, Any]], returning: Sequence[str] = (),
                     conflict: str | None = None) -> list[tuple] | None:
    """Insert rows (dicts with the same keys) on PostgreSQL in one statement whose text never changes: the
    rows travel as one JSON parameter, read back in their order; returns the ``returning`` columns.
    ``conflict``: skip rows that conflict (``""``: on any constraint, ``"(fingerprint)"``: on that one).
    Columns the rows leave out get their constant client-side defaults; None, having written
    nothing, when one has a computed default (the caller inserts as usual).

    For the few rows of a scan batch (items, signals, history lines): SQLAlchemy's multi-row VALUES has
    a placeholder per value, so its text changes with the number of rows, psycopg parses it again each
    time (in Python: a third of the scan stage's statement handling), and PostgreSQL plans it anew.
    Ids are drawn in the rows' order (``ORDER BY`` the position, as ``insert_returning_ids`` relies
    on). JSON columns keep the text ``json.dumps`` gave them (``->`` on ``json`` returns it as sent:
    what SQLAlchemy's JSON type stores); timestamps go as ISO 8601 with their offset, floats as
    ``repr`` (read back exactly).
    """
    filled = _with_defaults(table, rows)
    if filled is None:
        return None
    names, values = filled
    statement = _json_insert(table, tuple(names), tuple(returning), conflict)
    result = session.execute(statement, {"rows": json.dumps(list(values), default=_iso)})
    return [tuple(row) for row in result] if returning else []


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot go as JSON")


@cache
def _json_insert(table: Any, names: tuple[str, ...], returning: tuple[str, ...], conflict: str | None) -> Any:
    values = []
    for position, name in enumerate(names):
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            values.append(f"e.r->{position}")
            continue
        python_type = column_type.impl_instance.python_type if isinstance(column_type, TypeDecorator) else column_type.python_type
        sql_type = {int: "integer", float: "double precision", bool: "boolean", str: "text", datetime: "timestamptz"}[python_type]
        values.append(f"CAST(e.r->>{position} AS {sql_type})")
    sql = (f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(values)}"
           f" FROM json_array_elements(CAST(:rows AS json)) WITH ORDINALITY AS e(r, n) ORDER BY e.n"
           + (f" ON CONFLICT {conflict} DO NOTHING" if conflict is not None else "")
           + (f" RETURNING {', '.join(returning)}" if returning else ""))
    return text(sql)


def member_of(column: Any, name: str, postgres: bool) -> Any:
    """``column IN :name`` for a list: one array parameter on PostgreSQL, an expanding list elsewhere.

    An expanding list renders one placeholder per value, and psycopg re-parses a query text with
    thousands of them on every execution (a tenth of the importer's CPU); an array is one value.
    """
    if postgres:
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def member_of_set(column: Any, name: str, postgres: bool) -> Any:
    """``member_of`` for a lookup of many keys: ``column IN (SELECT unnest(:name))`` on PostgreSQL, a semi-join.

    ``column = ANY(:name)`` is planned once for any array (psycopg prepares a statement run five
    times, and PostgreSQL then keeps a generic plan), and in a generic plan the array is not known
    to be hashed: a sequential scan compares every row with every key in turn. The ingest's lookup of
    a batch's 500 conversations among 2,000, on tables not analysed yet, took 25 ms in EXPLAIN ANALYZE
    of its generic plan (a loaded machine), 1.1 ms as a semi-join, which the planner hashes or probes
    through the index whatever the statistics; its server-logged time in bench/ingest_bench.py fell from
    1,191 to 74 ms over 60 batches (docs/benchmarks.md, "s11-ingest"). The same rows as ``member_of``, duplicates
    in the list included (a string key is cast to ``varchar[]`` with no length: ``varchar(128)[]`` would
    cut a longer key down to one that may be stored); an expanding list elsewhere.
    """
    if postgres:
        element = String() if isinstance(column.type, String) else column.type
        return column.in_(select(func.unnest(cast(bindparam(name), ARRAY(element)))).scalar_subquery())
    return column.in_(bindparam(name, expanding=True))


def copy_table_rows(session: Session, table: Any, rows: Sequence[dict[str, Any]]) -> bool:
    """COPY rows (dicts with the same keys) into ``table``, with the columns' constant defaults filled in.

    COPY skips SQLAlchemy's client-side defaults, so a column the rows leave out gets its
    constant ``default`` here; a column with a computed client-side default makes this return
    False, having written nothing (the caller then inserts as usual).
    """
    filled = _with_defaults(table, rows)
    if filled is None:
        return False
    copy_into(session, table.name, *filled)
    return True


def insert_returning_ids(session: Session, table: Any, rows: Sequence[dict[str, Any]]) -> list[int] | None:
    """Insert rows (dicts with the same keys) through a scratch table; their new ids, in the rows' order.

    One ``INSERT … SELECT … ORDER BY`` numbers the rows in that order (the assumption SQLAlchemy's
    own ordered ``RETURNING`` makes for integer keys drawn from a sequence). None, having written
    nothing, when a column left out has a computed client-side default.
    """
    filled = _with_defaults(table, rows)
    if filled is None:
        return None
    names, values = filled
    dialect = session.get_bind().dialect
    scratch = f"scratch_{table.name}"
    copy_to_scratch(session, scratch, [("copy_position", "integer"), *((n, table.c[n].type.compile(dialect=dialect)) for n in names)],
                    ([position, *row] for position, row in enumerate(values)))
    listed = ", ".join(names)
    result = session.execute(text(f"INSERT INTO {table.name} ({listed}) SELECT {listed} FROM pg_temp.{scratch}"
                                  f" ORDER BY copy_position RETURNING {table.name}.id"))
    return sorted(result.scalars())


def _with_defaults(table: Any, rows: Sequence[dict[str, Any]]) -> tuple[list[str], Iterable[list[Any]]] | None:
    """Column names and each row's values, constant client-side defaults added; None if one is computed
    (or the rows' keys differ)."""
    given = list(rows[0])
    if any(row.keys() != rows[0].keys() for row in rows):
        return None
    missing = [c for c in table.columns if c.name not in given and c.default is not None]
    if any(not c.default.is_scalar for c in missing):
        return None
    defaults = [c.default.arg for c in missing]
    return [*given, *(c.name for c in missing)], ([*(row[k] for k in given), *defaults] for row in rows)
