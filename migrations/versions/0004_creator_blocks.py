"""shop_block: a creator blocks a shop (the other direction of `block`)

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import models.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shop_block",
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("created_at", models.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["creator_id"], ["creator.id"]),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"]),
        sa.PrimaryKeyConstraint("creator_id", "shop_id"),
    )


def downgrade() -> None:
    op.drop_table("shop_block")
