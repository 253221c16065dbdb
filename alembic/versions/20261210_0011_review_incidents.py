"""review incidents: item messages, merged items, overlapping pending items merged

One incident, one item: findings of one conversation that share a message are one attempt.
Upgrade:

1. ``review_item_messages(message_id, item_id)`` lists every message of an item's incident,
   filled here from each item's anchor message and its signals' findings.
2. ``review_items.merged_into_id`` and the status ``merged``: an item absorbed by another keeps
   its row, history and strike, and points at its survivor.
3. Existing PENDING items of one conversation that share a message (transitively) are merged
   into one: the survivor is the item that already gave a strike, else the oldest (lowest id);
   the others' signals and messages move to it, the others become ``merged``; both sides get a
   history line naming the other. Strikes stay with their item. The survivor takes the group's
   most severe kind, best score, highest stored priority, earliest opening and any high-severity
   flag; the next signal, strike or decision re-ranks it exactly. Decided items are left alone.

Downgrade restores the structure only. The 0008 schema has no ``merged`` status, so merged
items become ``ignored`` (the outcome that counts for nothing in detector precision; they have
no signals left anyway) with the resolution note "merged into item N" when they had none and a
history line saying so. Moved signals stay with their survivor: which item a signal came from
is not recorded, so the merge itself is not undone. ``review_item_messages`` is dropped.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 10:00:00
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Frozen copies of the rules as they were when this migration was written (migrations do not
# import application code, which may change after them).
SEVERITY = {"payment": 3, "phone": 2, "email": 2, "handle": 2, "url": 2, "intent": 1}
STATUSES_BEFORE = "status IN ('pending', 'confirmed', 'dismissed', 'ignored')"
STATUSES_AFTER = "status IN ('pending', 'confirmed', 'dismissed', 'ignored', 'merged')"

items = sa.table(
    'review_items', sa.column('id', sa.Integer), sa.column('conversation_id', sa.Integer),
    sa.column('message_id', sa.Integer), sa.column('kind', sa.String), sa.column('status', sa.String),
    sa.column('score', sa.Float), sa.column('priority', sa.Float), sa.column('high_severity', sa.Boolean),
    sa.column('claimed_by_id', sa.Integer), sa.column('claim_expires_at', sa.DateTime(timezone=True)),
    sa.column('resolved_at', sa.DateTime(timezone=True)), sa.column('resolution_note', sa.Text),
    sa.column('opened_at', sa.DateTime(timezone=True)), sa.column('version', sa.Integer),
    sa.column('merged_into_id', sa.Integer),
)
signals = sa.table('review_signals', sa.column('id', sa.Integer), sa.column('item_id', sa.Integer),
                   sa.column('finding_id', sa.Integer))
findings = sa.table('contact_findings', sa.column('id', sa.Integer), sa.column('message_ids', sa.JSON))
item_messages = sa.table('review_item_messages', sa.column('message_id', sa.Integer), sa.column('item_id', sa.Integer))
history = sa.table(
    'review_history', sa.column('item_id', sa.Integer), sa.column('actor_id', sa.Integer),
    sa.column('action', sa.String), sa.column('from_status', sa.String), sa.column('to_status', sa.String),
    sa.column('note', sa.Text), sa.column('at', sa.DateTime(timezone=True)),
)
strikes = sa.table('strikes', sa.column('item_id', sa.Integer))


def upgrade() -> None:
    op.create_table('review_item_messages',
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['review_items.id'], name=op.f('fk_review_item_messages_item_id_review_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_review_item_messages_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id', 'item_id', name=op.f('pk_review_item_messages'))
    )
    with op.batch_alter_table('review_item_messages', schema=None) as batch_op:
        batch_op.create_index('ix_review_item_messages_item_id', ['item_id'], unique=False)
    with _keeping_item_children(), op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_review_items_merged_into_id_review_items'), 'review_items',
                                    ['merged_into_id'], ['id'], ondelete='SET NULL')
        batch_op.drop_constraint(batch_op.f('ck_review_items_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_review_items_status_known'), sa.text(STATUSES_AFTER))
    _restore_ordered_indexes()
    connection = op.get_bind()
    messages_of = _fill_item_messages(connection)
    _merge_overlapping_pending(connection, messages_of, datetime.now(timezone.utc))


@contextmanager
def _keeping_item_children() -> Iterator[None]:
    """Keep the rows that reference review_items while SQLite's batch mode rebuilds it.

    Batch mode copies the table and drops the old one; with foreign keys on, DROP TABLE deletes
    every row first and ON DELETE CASCADE takes the signals, history and strikes with it
    (``PRAGMA foreign_keys`` cannot be turned off inside the migration's transaction). So they
    are copied aside and put back once the table is back with the same ids. PostgreSQL alters
    the table in place.
    """
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        yield
        return
    children = ('review_signals', 'review_history', 'strikes')
    for table in children:
        bind.exec_driver_sql(f'CREATE TEMP TABLE keep_{table} AS SELECT * FROM {table}')
    yield
    for table in children:
        bind.exec_driver_sql(f'DELETE FROM {table}')
        bind.exec_driver_sql(f'INSERT INTO {table} SELECT * FROM keep_{table}')
        bind.exec_driver_sql(f'DROP TABLE keep_{table}')


def _restore_ordered_indexes() -> None:
    """SQLite's batch mode rebuilds review_items with its indexes but loses their DESC columns;
    put the queue (0004) and decided (0007) indexes back exactly. PostgreSQL alters in place."""
    if op.get_bind().dialect.name != 'sqlite':
        return
    for name, columns, where in (
        ('ix_review_items_queue', [sa.text('priority DESC'), 'opened_at'], "status = 'pending'"),
        ('ix_review_items_decided', ['status', sa.text('resolved_at DESC'), sa.text('id DESC')], "status <> 'pending'"),
    ):
        op.drop_index(name, table_name='review_items', sqlite_where=sa.text(where))
        op.create_index(name, 'review_items', columns, unique=False, sqlite_where=sa.text(where))


def _fill_item_messages(connection) -> dict[int, set[int]]:
    """Every item's messages: its anchor and every message its signals' findings span."""
    messages_of: dict[int, set[int]] = {}
    for item_id, message_id in connection.execute(sa.select(items.c.id, items.c.message_id)):
        messages_of.setdefault(item_id, set()).add(message_id)
    query = sa.select(signals.c.item_id, findings.c.message_ids).join(findings, findings.c.id == signals.c.finding_id)
    for item_id, message_ids in connection.execute(query):
        messages_of[item_id].update(int(m) for m in message_ids or ())
    rows = [{"message_id": m, "item_id": item_id} for item_id, ms in messages_of.items() for m in sorted(ms)]
    for start in range(0, len(rows), 5000):
        connection.execute(item_messages.insert(), rows[start:start + 5000])
    return messages_of


def _merge_overlapping_pending(connection, messages_of: dict[int, set[int]], now: datetime) -> None:
    pending = connection.execute(
        sa.select(items.c.id, items.c.conversation_id, items.c.kind, items.c.score, items.c.priority,
                  items.c.high_severity, items.c.opened_at).where(items.c.status == 'pending').order_by(items.c.id)
    ).all()
    struck = set(connection.scalars(sa.select(strikes.c.item_id)))
    by_conversation: dict[int, list] = {}
    for row in pending:
        by_conversation.setdefault(row.conversation_id, []).append(row)
    for rows in by_conversation.values():
        for group in _overlapping_groups(rows, messages_of):
            if len(group) > 1:
                _merge(connection, group, struck, messages_of, now)


def _overlapping_groups(rows: list, messages_of: dict[int, set[int]]) -> list[list]:
    """Items sharing a message, transitively (a frozen copy of pipeline.review.group_incidents)."""
    parent = {row.id: row.id for row in rows}

    def root(item_id: int) -> int:
        while parent[item_id] != item_id:
            parent[item_id] = parent[parent[item_id]]
            item_id = parent[item_id]
        return item_id

    owner: dict[int, int] = {}
    for row in rows:
        for message in sorted(messages_of[row.id]):
            if message in owner:
                first, second = root(owner[message]), root(row.id)
                parent[max(first, second)] = min(first, second)
            else:
                owner[message] = row.id
    groups: dict[int, list] = {}
    for row in rows:
        groups.setdefault(root(row.id), []).append(row)
    return list(groups.values())


def _merge(connection, group: list, struck: set[int], messages_of: dict[int, set[int]], now: datetime) -> None:
    survivor = min(group, key=lambda row: (row.id not in struck, row.id))
    others = sorted(row.id for row in group if row.id != survivor.id)
    names = ", ".join(str(i) for i in others)
    connection.execute(signals.update().where(signals.c.item_id.in_(others)).values(item_id=survivor.id))
    moved = set().union(*(messages_of[i] for i in others)) - messages_of[survivor.id]
    connection.execute(item_messages.delete().where(item_messages.c.item_id.in_(others)))
    if moved:
        connection.execute(item_messages.insert(), [{"message_id": m, "item_id": survivor.id} for m in sorted(moved)])
    messages_of[survivor.id] |= moved
    connection.execute(
        items.update().where(items.c.id.in_(others)).values(
            status='merged', merged_into_id=survivor.id, claimed_by_id=None, claim_expires_at=None,
            resolved_at=now, version=items.c.version + 1)
    )
    connection.execute(
        items.update().where(items.c.id == survivor.id).values(
            kind=min((row.kind for row in group), key=lambda kind: (-SEVERITY.get(kind, 1), kind)),
            score=max(row.score for row in group), priority=max(row.priority for row in group),
            high_severity=any(row.high_severity for row in group), opened_at=min(row.opened_at for row in group),
            version=items.c.version + 1)
    )
    connection.execute(history.insert(), [
        {"item_id": survivor.id, "actor_id": None, "action": "merged", "from_status": "pending", "to_status": "pending",
         "note": f"items {names} merged into this one (same incident; migration 0011)", "at": now},
        *({"item_id": other, "actor_id": None, "action": "merged", "from_status": "pending", "to_status": "merged",
           "note": f"merged into item {survivor.id} (same incident; migration 0011)", "at": now} for other in others),
    ])


def downgrade() -> None:
    connection = op.get_bind()
    now = datetime.now(timezone.utc)
    merged = connection.execute(sa.select(items.c.id, items.c.merged_into_id).where(items.c.status == 'merged')).all()
    if merged:
        connection.execute(history.insert(), [
            {"item_id": item_id, "actor_id": None, "action": "merged", "from_status": "merged", "to_status": "ignored",
             "note": f"merged into item {into}; shown as ignored (downgrade below migration 0011)", "at": now}
            for item_id, into in merged
        ])
        for item_id, into in merged:
            connection.execute(items.update().where(items.c.id == item_id).values(
                status='ignored', resolution_note=sa.func.coalesce(items.c.resolution_note, f"merged into item {into}")))
    with _keeping_item_children(), op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_review_items_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_review_items_status_known'), sa.text(STATUSES_BEFORE))
        batch_op.drop_constraint(batch_op.f('fk_review_items_merged_into_id_review_items'), type_='foreignkey')
        batch_op.drop_column('merged_into_id')
    _restore_ordered_indexes()
    with op.batch_alter_table('review_item_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_review_item_messages_item_id')
    op.drop_table('review_item_messages')
