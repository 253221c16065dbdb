"""Review queue (items, signals, history), strikes, and user roles

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 19:27:07.423026
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_key', sa.String(length=400), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('subject_user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('high_severity', sa.Boolean(), nullable=False),
    sa.Column('claimed_by_id', sa.Integer(), nullable=True),
    sa.Column('claim_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'dismissed', 'ignored')", name=op.f('ck_review_items_status_known')),
    sa.ForeignKeyConstraint(['claimed_by_id'], ['users.id'], name=op.f('fk_review_items_claimed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_review_items_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_review_items_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_review_items_resolved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subject_user_id'], ['users.id'], name=op.f('fk_review_items_subject_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_items')),
    sa.UniqueConstraint('target_key', name=op.f('uq_review_items_target_key'))
    )
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_items_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_items_subject_user_id'), ['subject_user_id'], unique=False)
    # The queue index holds pending items only, in the order `review list` reads them.
    op.create_index(
        'ix_review_items_queue', 'review_items', [sa.text('priority DESC'), 'opened_at'], unique=False,
        postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"),
    )

    op.create_table('review_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_review_history_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['item_id'], ['review_items.id'], name=op.f('fk_review_history_item_id_review_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_history'))
    )
    with op.batch_alter_table('review_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_history_item_id'), ['item_id'], unique=False)

    op.create_table('review_signals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=500), nullable=False),
    sa.Column('detector_version', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('spans', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['finding_id'], ['contact_findings.id'], name=op.f('fk_review_signals_finding_id_contact_findings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['review_items.id'], name=op.f('fk_review_signals_item_id_review_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_signals')),
    sa.UniqueConstraint('finding_id', name=op.f('uq_review_signals_finding_id'))
    )
    with op.batch_alter_table('review_signals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_signals_item_id'), ['item_id'], unique=False)
        batch_op.create_index('ix_review_signals_kind_version', ['kind', 'detector_version'], unique=False)

    op.create_table('strikes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('overturned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overturned_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['review_items.id'], name=op.f('fk_strikes_item_id_review_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['overturned_by_id'], ['users.id'], name=op.f('fk_strikes_overturned_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_strikes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strikes')),
    sa.UniqueConstraint('item_id', name=op.f('uq_strikes_item_id'))
    )
    with op.batch_alter_table('strikes', schema=None) as batch_op:
        batch_op.create_index('ix_strikes_user_created', ['user_id', 'created_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=16), server_default='member', nullable=False))
        batch_op.add_column(sa.Column('restricted', sa.Boolean(), server_default=sa.text('false'), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('restricted')
        batch_op.drop_column('role')

    with op.batch_alter_table('strikes', schema=None) as batch_op:
        batch_op.drop_index('ix_strikes_user_created')

    op.drop_table('strikes')
    with op.batch_alter_table('review_signals', schema=None) as batch_op:
        batch_op.drop_index('ix_review_signals_kind_version')
        batch_op.drop_index(batch_op.f('ix_review_signals_item_id'))

    op.drop_table('review_signals')
    with op.batch_alter_table('review_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_history_item_id'))

    op.drop_table('review_history')
    op.drop_index('ix_review_items_queue', table_name='review_items')
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_items_subject_user_id'))
        batch_op.drop_index(batch_op.f('ix_review_items_conversation_id'))

    op.drop_table('review_items')
