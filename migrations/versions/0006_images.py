"""image: uploaded images (owner side, content hash, type, size, dimensions); message.image_id

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "image",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("owner_side", sa.String(length=8), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("mime_type", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_image_sha256", "image", ["sha256"])
    op.create_index(
        "ix_image_unsent",
        "image",
        ["created_at"],
        postgresql_where=sa.text("sent_at IS NULL"),
        sqlite_where=sa.text("sent_at IS NULL"),
    )
    if op.get_context().dialect.name == "sqlite":
        # SQLite alters no constraints, but adds a nullable column with its REFERENCES clause inline.
        op.execute("ALTER TABLE message ADD COLUMN image_id INTEGER REFERENCES image (id)")
    else:
        op.add_column("message", sa.Column("image_id", sa.BigInteger(), nullable=True))
        op.create_foreign_key("fk_message_image", "message", "image", ["image_id"], ["id"])


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        op.drop_constraint("fk_message_image", "message", type_="foreignkey")
    op.drop_column("message", "image_id")
    op.drop_index("ix_image_unsent", table_name="image")
    op.drop_index("ix_image_sha256", table_name="image")
    op.drop_table("image")
