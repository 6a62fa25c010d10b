"""conversation_state.creator_id: filtered inbox pages join the creator without scanning conversation

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_state") as batch_op:
        batch_op.add_column(sa.Column("creator_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE conversation_state SET creator_id = (SELECT conversation.creator_id FROM conversation "
        "WHERE conversation.id = conversation_state.conversation_id)"
    )
    with op.batch_alter_table("conversation_state") as batch_op:
        batch_op.alter_column("creator_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key("conversation_state_creator_id_fkey", "creator", ["creator_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("conversation_state") as batch_op:
        batch_op.drop_constraint("conversation_state_creator_id_fkey", type_="foreignkey")
        batch_op.drop_column("creator_id")
