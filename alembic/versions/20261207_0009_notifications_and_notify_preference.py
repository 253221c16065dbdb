"""Dashboard notifications (one row per recipient and conversation) and users' notify preference

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify', sa.String(length=16), server_default='immediate', nullable=False))
        batch_op.add_column(sa.Column('last_digest_on', sa.Date(), nullable=True))

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('unread_count', sa.Integer(), nullable=False),
    sa.Column('first_unread_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('latest_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('latest_message_id', sa.Integer(), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('email_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('emailed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('emailed_through', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_notifications_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['latest_message_id'], ['messages.id'], name=op.f('fk_notifications_latest_message_id_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_notifications_recipient_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('recipient_id', 'conversation_id', name='recipient_conversation')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_email_due', ['email_due_at'], unique=False, postgresql_where=sa.text('email_due_at IS NOT NULL'), sqlite_where=sa.text('email_due_at IS NOT NULL'))
        batch_op.create_index('ix_notifications_recipient_latest', ['recipient_id', 'latest_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_recipient_latest')
        batch_op.drop_index('ix_notifications_email_due', postgresql_where=sa.text('email_due_at IS NOT NULL'), sqlite_where=sa.text('email_due_at IS NOT NULL'))

    op.drop_table('notifications')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_digest_on')
        batch_op.drop_column('notify')
