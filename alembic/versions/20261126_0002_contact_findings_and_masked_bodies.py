"""contact findings and masked bodies

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 19:24:38.793817
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contact_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=500), nullable=False),
    sa.Column('match', sa.Text(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('detector_version', sa.String(length=32), nullable=False),
    sa.Column('spans', sa.JSON(), nullable=False),
    sa.Column('message_ids', sa.JSON(), nullable=False),
    sa.Column('found_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_contact_findings_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_contact_findings_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_findings')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_contact_findings_fingerprint'))
    )
    with op.batch_alter_table('contact_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_findings_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_contact_findings_kind_version', ['kind', 'detector_version'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_findings_message_id'), ['message_id'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('masked_body', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('masked_body')

    with op.batch_alter_table('contact_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_findings_message_id'))
        batch_op.drop_index('ix_contact_findings_kind_version')
        batch_op.drop_index(batch_op.f('ix_contact_findings_conversation_id'))

    op.drop_table('contact_findings')
