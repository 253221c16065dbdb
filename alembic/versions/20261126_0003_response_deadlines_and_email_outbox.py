"""response deadlines, their events, email preferences and the email outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 19:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DUE_WHERE = sa.text("next_due_at IS NOT NULL")
PENDING_WHERE = sa.text("status IN ('queued', 'failed', 'sending')")


def upgrade() -> None:
    op.create_table(
        "response_deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by_message_id", sa.Integer(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by_message_id", sa.Integer(), nullable=True),
        sa.Column("response_seconds", sa.Integer(), nullable=True),
        sa.Column("stage_sent", sa.SmallInteger(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("away", sa.Boolean(), nullable=False),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], name=op.f("fk_response_deadlines_conversation_id_conversations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["seller_id"], ["users.id"], name=op.f("fk_response_deadlines_seller_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["started_by_message_id"], ["messages.id"], name=op.f("fk_response_deadlines_started_by_message_id_messages"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["answered_by_message_id"], ["messages.id"], name=op.f("fk_response_deadlines_answered_by_message_id_messages"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_deadlines")),
        sa.UniqueConstraint("conversation_id", "started_by_message_id", name=op.f("uq_response_deadlines_conversation_id")),
    )
    with op.batch_alter_table("response_deadlines") as batch_op:
        batch_op.create_index("ix_response_deadlines_due", ["next_due_at"], postgresql_where=DUE_WHERE, sqlite_where=DUE_WHERE)
        batch_op.create_index("ix_response_deadlines_seller_started", ["seller_id", "started_at"])

    op.create_table(
        "response_deadline_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deadline_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.SmallInteger(), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["deadline_id"], ["response_deadlines.id"], name=op.f("fk_response_deadline_events_deadline_id_response_deadlines"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_deadline_events")),
    )
    with op.batch_alter_table("response_deadline_events") as batch_op:
        batch_op.create_index(batch_op.f("ix_response_deadline_events_deadline_id"), ["deadline_id"])

    op.create_table(
        "email_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("response_reminders_opted_out", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_email_preferences_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_email_preferences")),
    )
    op.create_table(
        "response_sync_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_message_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_sync_cursor")),
    )
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice", sa.String(length=64), nullable=False),
        sa.Column("recipient_address", sa.String(length=320), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("send_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_message_id", sa.String(length=500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed', 'dead')", name=op.f("ck_email_outbox_status_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_email_outbox_idempotency_key")),
    )
    with op.batch_alter_table("email_outbox") as batch_op:
        batch_op.create_index("ix_email_outbox_pending", ["next_attempt_at"], postgresql_where=PENDING_WHERE, sqlite_where=PENDING_WHERE)


def downgrade() -> None:
    with op.batch_alter_table("email_outbox") as batch_op:
        batch_op.drop_index("ix_email_outbox_pending")
    op.drop_table("email_outbox")
    op.drop_table("response_sync_cursor")
    op.drop_table("email_preferences")
    with op.batch_alter_table("response_deadline_events") as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_deadline_events_deadline_id"))
    op.drop_table("response_deadline_events")
    with op.batch_alter_table("response_deadlines") as batch_op:
        batch_op.drop_index("ix_response_deadlines_seller_started")
        batch_op.drop_index("ix_response_deadlines_due")
    op.drop_table("response_deadlines")
