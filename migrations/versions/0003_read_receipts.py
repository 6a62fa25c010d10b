"""conversation_state.last_read_at: when a side last moved its read position forward (read receipts)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import models.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_state") as batch_op:
        batch_op.add_column(sa.Column("last_read_at", models.types.UtcDateTime(timezone=True), nullable=True))
    # When a side read is not recorded before this revision: the time of the message it read up to
    # is the earliest it can have read it, and a side that read nothing stays null.
    op.execute(
        "UPDATE conversation_state SET last_read_at = (SELECT message.created_at FROM message "
        "WHERE message.id = conversation_state.last_read_message_id) WHERE last_read_message_id > 0"
    )


def downgrade() -> None:
    with op.batch_alter_table("conversation_state") as batch_op:
        batch_op.drop_column("last_read_at")
