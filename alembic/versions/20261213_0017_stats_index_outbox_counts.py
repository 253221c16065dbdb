"""read-only commands on a large history: deadlines by start time, outbox counts kept by triggers

`peerguard sellers stats` reads the deadlines started in its window (30 days): without an index
on ``started_at`` that was a sequential scan of every deadline ever recorded. The index is
partial (superseded deadlines never count) and, on PostgreSQL, carries the columns the
statistics read, so the scan does not visit the table.

`peerguard outbox status` (and `status`, and the outbox gauges) counted the emails in each status
with ``count(*) … GROUP BY status``, proportional to the whole history. ``email_outbox_counts``
holds signed changes per status, written by triggers on ``email_outbox`` in the same transaction
as the change itself, so the sum per status is always exact: a statement-level trigger for
INSERT and DELETE (one row per status and statement, from the transition table), a row-level
one for an UPDATE that changes ``status`` (the ``WHEN`` clause skips every other update), and
TRUNCATE empties it. Rows are appended, never updated, so concurrent writers never wait on each
other for a counter; ``storage.outbox.compact_status_counts`` folds them together from time to
time. SQLite has only row-level triggers, the same three. The table starts from the emails
already there.

Whatever rewrites ``email_outbox`` on SQLite (a batch migration's copy and rename) drops its
triggers: such a migration must create them again (``tests/foundation/test_outbox_counts.py``
checks the counts against the table after every kind of status change at the head revision).

Downgrade drops the triggers, their functions, the table and the index.

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-13 08:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0014'
branch_labels = None
depends_on = None

_STARTED_WHERE = sa.text("superseded_at IS NULL")

POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION email_outbox_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           INSERT INTO email_outbox_counts (status, n) SELECT status, count(*) FROM new_rows GROUP BY status;
           RETURN NULL;
       END $$""",
    """CREATE FUNCTION email_outbox_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           INSERT INTO email_outbox_counts (status, n) SELECT status, -count(*) FROM old_rows GROUP BY status;
           RETURN NULL;
       END $$""",
    """CREATE FUNCTION email_outbox_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           INSERT INTO email_outbox_counts (status, n) VALUES (OLD.status, -1), (NEW.status, 1);
           RETURN NULL;
       END $$""",
    """CREATE FUNCTION email_outbox_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           DELETE FROM email_outbox_counts;
           RETURN NULL;
       END $$""",
    """CREATE TRIGGER email_outbox_count_inserted AFTER INSERT ON email_outbox
       REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION email_outbox_count_inserted()""",
    """CREATE TRIGGER email_outbox_count_deleted AFTER DELETE ON email_outbox
       REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION email_outbox_count_deleted()""",
    """CREATE TRIGGER email_outbox_count_updated AFTER UPDATE OF status ON email_outbox
       FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION email_outbox_count_updated()""",
    """CREATE TRIGGER email_outbox_count_truncated AFTER TRUNCATE ON email_outbox
       FOR EACH STATEMENT EXECUTE FUNCTION email_outbox_count_truncated()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER email_outbox_count_truncated ON email_outbox",
    "DROP TRIGGER email_outbox_count_updated ON email_outbox",
    "DROP TRIGGER email_outbox_count_deleted ON email_outbox",
    "DROP TRIGGER email_outbox_count_inserted ON email_outbox",
    "DROP FUNCTION email_outbox_count_truncated()",
    "DROP FUNCTION email_outbox_count_updated()",
    "DROP FUNCTION email_outbox_count_deleted()",
    "DROP FUNCTION email_outbox_count_inserted()",
]
SQLITE_TRIGGERS = [
    """CREATE TRIGGER email_outbox_count_inserted AFTER INSERT ON email_outbox
       BEGIN INSERT INTO email_outbox_counts (status, n) VALUES (NEW.status, 1); END""",
    """CREATE TRIGGER email_outbox_count_deleted AFTER DELETE ON email_outbox
       BEGIN INSERT INTO email_outbox_counts (status, n) VALUES (OLD.status, -1); END""",
    """CREATE TRIGGER email_outbox_count_updated AFTER UPDATE OF status ON email_outbox
       WHEN OLD.status IS NOT NEW.status
       BEGIN INSERT INTO email_outbox_counts (status, n) VALUES (OLD.status, -1), (NEW.status, 1); END""",
]
SQLITE_DROP = [
    "DROP TRIGGER email_outbox_count_updated",
    "DROP TRIGGER email_outbox_count_deleted",
    "DROP TRIGGER email_outbox_count_inserted",
]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_index(
        'ix_response_deadlines_started', 'response_deadlines', ['started_at'], unique=False,
        postgresql_include=['seller_id', 'answered_at', 'away'],
        postgresql_where=_STARTED_WHERE, sqlite_where=_STARTED_WHERE,
    )
    op.create_table(
        'email_outbox_counts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
    )
    if postgresql:
        # Writers wait from here to the commit: the counts start from exactly the rows there are.
        op.execute("LOCK TABLE email_outbox IN SHARE ROW EXCLUSIVE MODE")
    for statement in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)
    op.execute("INSERT INTO email_outbox_counts (status, n) SELECT status, count(*) FROM email_outbox GROUP BY status")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_DROP if postgresql else SQLITE_DROP:
        op.execute(statement)
    op.drop_table('email_outbox_counts')
    op.drop_index('ix_response_deadlines_started', table_name='response_deadlines',
                  postgresql_where=_STARTED_WHERE, sqlite_where=_STARTED_WHERE)
