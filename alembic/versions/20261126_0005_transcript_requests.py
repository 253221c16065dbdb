"""Transcript requests for dispute transcripts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 19:46:42.269570
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('transcript_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('evidence', sa.Boolean(), nullable=False),
    sa.Column('around_message_ids', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('chain_head', sa.String(length=64), nullable=True),
    sa.Column('message_count', sa.Integer(), nullable=True),
    sa.Column('pdf_path', sa.String(length=500), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('reused_from_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'rendering', 'done', 'failed')", name=op.f('ck_transcript_requests_status_known')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_transcript_requests_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reused_from_id'], ['transcript_requests.id'], name=op.f('fk_transcript_requests_reused_from_id_transcript_requests'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transcript_requests'))
    )
    with op.batch_alter_table('transcript_requests', schema=None) as batch_op:
        batch_op.create_index('ix_transcript_requests_reuse', ['conversation_id', 'fingerprint', 'status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('transcript_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_transcript_requests_reuse')

    op.drop_table('transcript_requests')
