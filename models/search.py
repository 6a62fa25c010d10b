"""The searchable text of messages and creators, case-folded, and the trigram index condition over it.

Each row holds text folded by `core.text.fold` when it was written, so both databases compare the very
same strings: PostgreSQL with `LIKE` through `pg_trgm` GIN indexes, SQLite through an FTS5 table with
the `trigram` tokenizer (case-sensitive: the text is folded already), an external-content table over
this one kept in step by triggers (migrations/versions/0005_message_search.py).
"""

from typing import Any

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, bindparam, column, select, table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from models.types import BigId

# The shortest needle a trigram index serves (a shorter one holds no trigram).
TRIGRAM = 3
# SQLite's FTS5 table over each search table: its rowid is the search table's key.
FTS_TABLES = {"message_search": "message_search_fts", "creator_search": "creator_search_fts"}


def _trigram_index(name: str, *columns: str) -> Index:
    """A pg_trgm GIN index (PostgreSQL only: SQLite has its FTS5 table instead)."""
    return Index(
        name, *columns, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops" for column in columns}
    ).ddl_if(dialect="postgresql")


class MessageSearch(SQLModel, table=True):
    """The searchable text of one message (a text message's text), with the conversation's parties:
    a side's newest matches then come from one index, in order. Notices and cards have no row."""

    __tablename__ = "message_search"
    __table_args__ = (
        Index("ix_message_search_shop", "shop_id", "message_id"),
        Index("ix_message_search_creator", "creator_id", "message_id"),
        Index("ix_message_search_conversation", "conversation_id", "message_id"),
        _trigram_index("ix_message_search_body", "body"),
    )

    message_id: int = Field(sa_column=Column(BigId, ForeignKey("message.id"), primary_key=True, autoincrement=False))
    conversation_id: int = Field(sa_column=Column(Integer, ForeignKey("conversation.id"), nullable=False))
    shop_id: int = Field(sa_column=Column(Integer, nullable=False))
    creator_id: int = Field(sa_column=Column(Integer, nullable=False))
    body: str = Field(sa_column=Column(String(2000), nullable=False))


class CreatorSearch(SQLModel, table=True):
    """A creator's handle and display name, folded: what `CreatorFilter.search` looks in."""

    __tablename__ = "creator_search"
    __table_args__ = (_trigram_index("ix_creator_search_text", "handle", "display_name"),)

    creator_id: int = Field(sa_column=Column(Integer, ForeignKey("creator.id"), primary_key=True, autoincrement=False))
    handle: str = Field(sa_column=Column(String(100), nullable=False))
    display_name: str = Field(sa_column=Column(String(200), nullable=False))


class TrigramNeedle(TypeDecorator):
    """A folded needle of at least 3 characters, bound as its database's trigram index takes it:
    a `LIKE` pattern on PostgreSQL (backslash, `%` and `_` escaped: they are plain characters), an FTS5
    phrase on SQLite (a phrase of trigrams matches exactly the texts holding the substring)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else _needle(value, dialect)

    def process_literal_param(self, value: str | None, dialect: Dialect) -> str:
        return _needle(value or "", dialect)


def _needle(value: str, dialect: Dialect) -> str:
    if dialect.name == "postgresql":
        return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return '"' + value.replace('"', '""') + '"'


def trigram_needle(name: str, inline: bool = False) -> BindParameter[str]:
    """The bound needle of a `TrigramMatch`. `inline`: written into the statement's text, so that
    PostgreSQL plans with it (a generic plan cannot tell a needle in every other message from
    one in none of them, and the index walk that suits one is the worst for the other)."""
    return bindparam(name, type_=TrigramNeedle(), literal_execute=inline)


class TrigramMatch(ColumnElement[bool]):
    """True for the rows whose `row_key` is the key of a search table row where one of `columns` (that
    table's text columns) holds the `needle` (a `trigram_needle`) as a literal substring.

    PostgreSQL: `LIKE`, which the GIN trigram indexes serve; on the search table itself (`row_key` is its
    own key) it stays a plain condition, which the planner may combine with the table's other indexes.
    SQLite: the key among the rowids of the search table's FTS5 table that match the needle."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition already: no "= 1" after it where booleans are integers
    # What SQLAlchemy's statement cache keys on: another row key, columns or needle is another statement.
    _traverse_internals = [
        ("row_key", InternalTraversal.dp_clauseelement),
        ("columns", InternalTraversal.dp_clauseelement_tuple),
        ("needle", InternalTraversal.dp_clauseelement),
    ]

    def __init__(
        self, row_key: ColumnElement[Any], columns: tuple[ColumnElement[str], ...], needle: BindParameter[str]
    ) -> None:
        self.row_key, self.columns, self.needle = row_key, columns, needle


@compiles(TrigramMatch, "postgresql")
def _postgresql_match(element: TrigramMatch, compiler: SQLCompiler, **kw: Any) -> str:
    condition: ColumnElement[bool] = element.columns[0].like(element.needle)
    for other in element.columns[1:]:
        condition = condition | other.like(element.needle)
    search_table = element.columns[0].table
    if element.row_key.table is not search_table:
        condition = element.row_key.in_(select(*search_table.primary_key.columns).where(condition))
    return compiler.process(condition, **kw)


@compiles(TrigramMatch, "sqlite")
def _sqlite_match(element: TrigramMatch, compiler: SQLCompiler, **kw: Any) -> str:
    name = FTS_TABLES[element.columns[0].table.name]
    fts = table(name, column("rowid"), column(name))
    rowids = select(fts.c.rowid).where(fts.c[name].op("MATCH")(element.needle))
    return compiler.process(element.row_key.in_(rowids), **kw)
