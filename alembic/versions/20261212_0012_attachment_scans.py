"""attachment scans: outcome per attachment, and the file, page and region of attachment findings

Upgrade adds ``attachment_scans`` (one row per attachment read: scanned or unreadable with a
reason) and three nullable columns on ``contact_findings``: ``attachment_sha256``, ``page`` and
``region`` (a JSON box [left, top, right, bottom] in the page's pixels).
Downgrade deletes attachment findings (scope ``attachment``; their review signals go with them
through the cascade) and drops the columns and the table: the 0011 schema cannot hold them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-12 08:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'attachment_scans',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('attachment_id', sa.Integer(), sa.ForeignKey('attachments.id', ondelete='CASCADE'), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('method', sa.String(16), nullable=False),
        sa.Column('pages', sa.Integer(), nullable=False),
        sa.Column('findings', sa.Integer(), nullable=False),
        sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('attachment_id', name='uq_attachment_scans_attachment_id'),
    )
    op.create_index('ix_attachment_scans_sha256', 'attachment_scans', ['sha256'])
    with op.batch_alter_table('contact_findings') as batch:
        batch.add_column(sa.Column('attachment_sha256', sa.String(64), nullable=True))
        batch.add_column(sa.Column('page', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('region', sa.JSON(), nullable=True))


def downgrade() -> None:
    findings = sa.table('contact_findings', sa.column('id', sa.Integer), sa.column('scope', sa.String))
    signals = sa.table('review_signals', sa.column('finding_id', sa.Integer))
    attachment_ids = sa.select(findings.c.id).where(findings.c.scope == 'attachment')
    op.execute(signals.delete().where(signals.c.finding_id.in_(attachment_ids)))
    op.execute(findings.delete().where(findings.c.scope == 'attachment'))
    # SQLite's batch mode rebuilds contact_findings: with foreign keys on, dropping the old table
    # would take every review signal with it (ON DELETE CASCADE), so they are kept aside and put
    # back once the table is back with the same ids (as 0011 does for review_items).
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        op.get_bind().exec_driver_sql('CREATE TEMP TABLE keep_review_signals AS SELECT * FROM review_signals')
    with op.batch_alter_table('contact_findings') as batch:
        batch.drop_column('region')
        batch.drop_column('page')
        batch.drop_column('attachment_sha256')
    if sqlite:
        op.get_bind().exec_driver_sql('DELETE FROM review_signals')
        op.get_bind().exec_driver_sql('INSERT INTO review_signals SELECT * FROM keep_review_signals')
        op.get_bind().exec_driver_sql('DROP TABLE keep_review_signals')
    op.drop_index('ix_attachment_scans_sha256', table_name='attachment_scans')
    op.drop_table('attachment_scans')
