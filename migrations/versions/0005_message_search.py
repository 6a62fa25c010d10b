"""message_search and creator_search: case-folded text behind trigram indexes (pg_trgm GIN, SQLite FTS5)

Revision ID: 0005
Revises: 0002

The text is folded in Python (`core.text.fold`) when it is written, here for the rows that exist:
neither database folds exactly as the other, so each compares copies folded once, the same way.
"""

import sqlite3

import sqlalchemy as sa
from alembic import op

from core.text import fold

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 5000
# SQLite: each search table's FTS5 table, its key and text columns. The trigram tokenizer is
# case-sensitive here, since the text is folded already (its own folding is another one).
FTS = {
    "message_search": ("message_search_fts", "message_id", ("body",)),
    "creator_search": ("creator_search_fts", "creator_id", ("handle", "display_name")),
}

message = sa.table(
    "message",
    sa.column("id", sa.BigInteger),
    sa.column("conversation_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("text", sa.String),
)
conversation = sa.table(
    "conversation", sa.column("id", sa.Integer), sa.column("shop_id", sa.Integer), sa.column("creator_id", sa.Integer)
)
creator = sa.table(
    "creator", sa.column("id", sa.Integer), sa.column("handle", sa.String), sa.column("display_name", sa.String)
)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    elif sqlite3.sqlite_version_info < (3, 34):
        raise RuntimeError(f"SQLite {sqlite3.sqlite_version} has no FTS5 trigram tokenizer; 3.34 or newer is needed")
    message_search = op.create_table(
        "message_search",
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("message_id"),
    )
    creator_search = op.create_table(
        "creator_search",
        sa.Column("creator_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("handle", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["creator_id"], ["creator.id"]),
        sa.PrimaryKeyConstraint("creator_id"),
    )
    _fill_messages(message_search)
    _fill_creators(creator_search)
    # Indexes after the rows: building one at once is cheaper than growing it row by row.
    op.create_index("ix_message_search_shop", "message_search", ["shop_id", "message_id"])
    op.create_index("ix_message_search_creator", "message_search", ["creator_id", "message_id"])
    op.create_index("ix_message_search_conversation", "message_search", ["conversation_id", "message_id"])
    if postgresql:
        op.execute("CREATE INDEX ix_message_search_body ON message_search USING gin (body gin_trgm_ops)")
        op.execute(
            "CREATE INDEX ix_creator_search_text ON creator_search "
            "USING gin (handle gin_trgm_ops, display_name gin_trgm_ops)"
        )
        # The search statements are planned with their needle (services/search.py), from these statistics.
        op.execute("ANALYZE message_search, creator_search")
        return
    for content, (fts, key, columns) in FTS.items():
        _create_fts(content, fts, key, columns)


def _fill_messages(message_search: sa.Table) -> None:
    """A row for every text message (notices and cards are not searched), in batches by id."""
    bind, after = op.get_bind(), 0
    query = (
        sa.select(
            message.c.id, message.c.conversation_id, conversation.c.shop_id, conversation.c.creator_id, message.c.text
        )
        .join(conversation, conversation.c.id == message.c.conversation_id)
        .where(message.c.kind == "TEXT", message.c.id > sa.bindparam("after"))
        .order_by(message.c.id)
        .limit(BATCH)
    )
    while rows := bind.execute(query, {"after": after}).all():
        bind.execute(
            sa.insert(message_search),
            [
                {
                    "message_id": id_,
                    "conversation_id": conversation_id,
                    "shop_id": shop_id,
                    "creator_id": creator_id,
                    "body": fold(text),
                }
                for id_, conversation_id, shop_id, creator_id, text in rows
            ],
        )
        after = rows[-1].id


def _fill_creators(creator_search: sa.Table) -> None:
    bind, after = op.get_bind(), 0
    query = (
        sa.select(creator.c.id, creator.c.handle, creator.c.display_name)
        .where(creator.c.id > sa.bindparam("after"))
        .order_by(creator.c.id)
        .limit(BATCH)
    )
    while rows := bind.execute(query, {"after": after}).all():
        bind.execute(
            sa.insert(creator_search),
            [{"creator_id": id_, "handle": fold(handle), "display_name": fold(name)} for id_, handle, name in rows],
        )
        after = rows[-1].id


def _create_fts(content: str, fts: str, key: str, columns: tuple[str, ...]) -> None:
    """An external-content FTS5 table over `content` (its rowid is `key`), built from the rows there,
    and the triggers that keep it in step with every insert, update and delete of `content`."""
    names = ", ".join(columns)
    new = ", ".join(f"new.{name}" for name in columns)
    old = ", ".join(f"old.{name}" for name in columns)
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{content}', content_rowid='{key}', "
        "tokenize='trigram case_sensitive 1')"
    )
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
    insert = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.{key}, {new});"
    delete = f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.{key}, {old});"
    op.execute(f"CREATE TRIGGER {content}_ai AFTER INSERT ON {content} BEGIN {insert} END")
    op.execute(f"CREATE TRIGGER {content}_ad AFTER DELETE ON {content} BEGIN {delete} END")
    op.execute(f"CREATE TRIGGER {content}_au AFTER UPDATE ON {content} BEGIN {delete} {insert} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for content, (fts, _, _) in FTS.items():
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER {content}_{suffix}")
            op.execute(f"DROP TABLE {fts}")
    # pg_trgm stays: other objects of the database may use it.
    op.drop_table("creator_search")
    op.drop_table("message_search")
