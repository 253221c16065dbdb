"""users: index on lower(email), for staff look-ups, sign-in and "claim next"

The console matches people by email case-insensitively: sign-in, the reviewer behind every
claim and decision, and "claim next", which skips items about the reviewer's own accounts.
Without this index each of those scanned every user (a sequential scan per claim).

Revision ID: 0016
Revises: 0011
Create Date: 2026-12-12 07:30:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_users_email_lower', 'users', [sa.text('lower(email)')], unique=False)


def downgrade() -> None:
    op.drop_index('ix_users_email_lower', table_name='users')
