"""outbox claimers: each claim names its dispatcher, whose heartbeat says it is alive

A dispatcher that dies holding claims used to stall them for the whole 5-minute lease. Now every
dispatcher run registers a row in ``outbox_claimers`` and beats it every few seconds; each
claimed email records ``claimer``. The reaper releases the claims of a claimer whose heartbeat
stopped (seconds, not minutes); the lease stays as the backstop.

Downgrade drops the column and the table; claims then fall back to the lease alone.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-12 08:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox_claimers',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('pid', sa.Integer, nullable=False),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table('email_outbox') as batch:
        batch.add_column(sa.Column('claimer', sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('email_outbox') as batch:
        batch.drop_column('claimer')
    op.drop_table('outbox_claimers')
