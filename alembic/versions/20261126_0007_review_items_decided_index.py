"""index for listing decided review items

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 23:05:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `review list --status <outcome>` reads decided items newest decision first; the partial
    # index leaves the pending queue (which has its own) out.
    op.create_index(
        'ix_review_items_decided', 'review_items', ['status', sa.text('resolved_at DESC'), sa.text('id DESC')], unique=False,
        postgresql_where=sa.text("status <> 'pending'"), sqlite_where=sa.text("status <> 'pending'"),
    )


def downgrade() -> None:
    op.drop_index('ix_review_items_decided', table_name='review_items',
                  postgresql_where=sa.text("status <> 'pending'"), sqlite_where=sa.text("status <> 'pending'"))
