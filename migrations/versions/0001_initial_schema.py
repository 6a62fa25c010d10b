"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 00:12:26.500787
"""

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import models.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "creator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("handle", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("avatar_url", sa.String(length=500), nullable=True),
        sa.Column("follower_count", sa.Integer(), nullable=False),
        sa.Column("main_category", sa.String(length=100), nullable=False),
        sa.Column("gmv_30d", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("updated_at", models.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform_id"),
    )
    with op.batch_alter_table("creator", schema=None) as batch_op:
        batch_op.create_index("ix_creator_category", ["main_category", "follower_count", "id"], unique=False)
        batch_op.create_index("ix_creator_followers", ["follower_count", "id"], unique=False)
        batch_op.create_index("ix_creator_gmv", ["gmv_30d", "id"], unique=False)

    op.create_table(
        "shop",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("affiliate_gmv_30d", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("updated_at", models.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform_id"),
    )
    op.create_table(
        "block",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", models.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["creator.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.PrimaryKeyConstraint("shop_id", "creator_id"),
    )
    op.create_table(
        "conversation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("entrance", sa.String(length=32), nullable=False),
        sa.Column("created_at", models.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_message_id", sa.BigInteger(), nullable=True),
        sa.Column("last_activity_at", models.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("creator_has_replied", sa.Boolean(), nullable=False),
        sa.Column("seller_message_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["creator.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "creator_id", name="uq_conversation_pair"),
    )
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversation_creator_id"), ["creator_id"], unique=False)

    op.create_table(
        "outreach_unit",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("week_start", models.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", models.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["creator.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.PrimaryKeyConstraint("shop_id", "week_start", "creator_id"),
    )
    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("image_url", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform_id"),
    )
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_product_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "target_collaboration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("commission_rate", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", models.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("target_collaboration", schema=None) as batch_op:
        batch_op.create_index("ix_collaboration_shop", ["shop_id", "id"], unique=False)

    op.create_table(
        "collaboration_product",
        sa.Column("collaboration_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["target_collaboration.id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
        ),
        sa.PrimaryKeyConstraint("collaboration_id", "product_id"),
    )
    op.create_table(
        "conversation_state",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("visible", sa.Boolean(), nullable=False),
        sa.Column("starred", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("last_read_message_id", sa.BigInteger(), nullable=False),
        sa.Column("unread_count", sa.Integer(), nullable=False),
        sa.Column("unreplied", sa.Boolean(), nullable=False),
        sa.Column("last_activity_at", models.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
        ),
        sa.PrimaryKeyConstraint("conversation_id", "side"),
    )
    with op.batch_alter_table("conversation_state", schema=None) as batch_op:
        batch_op.create_index(
            "ix_state_inbox",
            ["side", "owner_id", "archived", "last_activity_at", "conversation_id"],
            unique=False,
            postgresql_where=sa.text("visible"),
            sqlite_where=sa.text("visible"),
        )
        batch_op.create_index(
            "ix_state_starred",
            ["side", "owner_id", "last_activity_at", "conversation_id"],
            unique=False,
            postgresql_where=sa.text("visible AND starred"),
            sqlite_where=sa.text("visible AND starred"),
        )
        batch_op.create_index(
            "ix_state_unread",
            ["side", "owner_id", "last_activity_at", "conversation_id"],
            unique=False,
            postgresql_where=sa.text("visible AND NOT archived AND unread_count > 0"),
            sqlite_where=sa.text("visible AND NOT archived AND unread_count > 0"),
        )
        batch_op.create_index(
            "ix_state_unreplied",
            ["side", "owner_id", "last_activity_at", "conversation_id"],
            unique=False,
            postgresql_where=sa.text("visible AND NOT archived AND unreplied"),
            sqlite_where=sa.text("visible AND NOT archived AND unreplied"),
        )

    op.create_table(
        "sample_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("reject_reason", sa.String(length=1000), nullable=True),
        sa.Column("client_request_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", models.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", models.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["creator.id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("creator_id", "client_request_id", name="uq_sample_client_id"),
    )
    with op.batch_alter_table("sample_request", schema=None) as batch_op:
        batch_op.create_index("ix_sample_conversation", ["conversation_id", "id"], unique=False)
        batch_op.create_index("ix_sample_creator", ["creator_id", "status", "id"], unique=False)
        batch_op.create_index("ix_sample_shop", ["shop_id", "status", "id"], unique=False)

    op.create_table(
        "message",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("sender_role", sa.String(length=8), nullable=False),
        sa.Column("sender_key", sa.String(length=80), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("collaboration_id", sa.Integer(), nullable=True),
        sa.Column("sample_request_id", sa.Integer(), nullable=True),
        sa.Column("notice_code", sa.String(length=32), nullable=True),
        sa.Column("client_message_id", sa.String(length=100), nullable=True),
        sa.Column("client_batch_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", models.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["target_collaboration.id"],
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
        ),
        sa.ForeignKeyConstraint(
            ["sample_request_id"],
            ["sample_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender_key", "client_batch_id", "conversation_id", name="uq_message_batch"),
        sa.UniqueConstraint("sender_key", "client_message_id", name="uq_message_client_id"),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index("ix_message_conversation", ["conversation_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_conversation")

    op.drop_table("message")
    with op.batch_alter_table("sample_request", schema=None) as batch_op:
        batch_op.drop_index("ix_sample_shop")
        batch_op.drop_index("ix_sample_creator")
        batch_op.drop_index("ix_sample_conversation")

    op.drop_table("sample_request")
    with op.batch_alter_table("conversation_state", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_state_unreplied",
            postgresql_where=sa.text("visible AND NOT archived AND unreplied"),
            sqlite_where=sa.text("visible AND NOT archived AND unreplied"),
        )
        batch_op.drop_index(
            "ix_state_unread",
            postgresql_where=sa.text("visible AND NOT archived AND unread_count > 0"),
            sqlite_where=sa.text("visible AND NOT archived AND unread_count > 0"),
        )
        batch_op.drop_index(
            "ix_state_starred",
            postgresql_where=sa.text("visible AND starred"),
            sqlite_where=sa.text("visible AND starred"),
        )
        batch_op.drop_index("ix_state_inbox", postgresql_where=sa.text("visible"), sqlite_where=sa.text("visible"))

    op.drop_table("conversation_state")
    op.drop_table("collaboration_product")
    with op.batch_alter_table("target_collaboration", schema=None) as batch_op:
        batch_op.drop_index("ix_collaboration_shop")

    op.drop_table("target_collaboration")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_shop_id"))

    op.drop_table("product")
    op.drop_table("outreach_unit")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_creator_id"))

    op.drop_table("conversation")
    op.drop_table("block")
    op.drop_table("shop")
    with op.batch_alter_table("creator", schema=None) as batch_op:
        batch_op.drop_index("ix_creator_gmv")
        batch_op.drop_index("ix_creator_followers")
        batch_op.drop_index("ix_creator_category")

    op.drop_table("creator")
