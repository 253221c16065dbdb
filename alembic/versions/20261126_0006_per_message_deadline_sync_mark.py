"""per-message deadline sync mark

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 20:29:39.747761
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deadline_synced_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_messages_deadline_unsynced', ['id'], unique=False, postgresql_where=sa.text('deadline_synced_at IS NULL'), sqlite_where=sa.text('deadline_synced_at IS NULL'))
    # Everything the old high-water cursor had read counts as synced.
    op.execute(
        "UPDATE messages SET deadline_synced_at = recorded_at "
        "WHERE id <= COALESCE((SELECT last_message_id FROM response_sync_cursor WHERE id = 1), 0)"
    )


def downgrade() -> None:
    # Back to a high-water cursor: it may only claim what lies below the first unsynced id.
    op.execute(
        "UPDATE response_sync_cursor SET last_message_id = COALESCE("
        "(SELECT MIN(id) - 1 FROM messages WHERE deadline_synced_at IS NULL), "
        "(SELECT MAX(id) FROM messages WHERE deadline_synced_at IS NOT NULL), 0) WHERE id = 1"
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_deadline_unsynced', postgresql_where=sa.text('deadline_synced_at IS NULL'), sqlite_where=sa.text('deadline_synced_at IS NULL'))
        batch_op.drop_column('deadline_synced_at')

