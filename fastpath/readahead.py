"""The chat screen's read ahead: a conversation and the page of messages the query asks of it, in one
statement on PostgreSQL.

The chat screen opens with exactly this pair, and the plain app reads it in two statements (the
conversation, then its messages). `ReadAheadQuery.conversation` looks at the selection under it:
when `messages` is selected once, plainly, the statement reads the page as an array of message rows
beside the conversation, and the conversation answers its `messages` field with that page
(`ReadAheadConversation`). Anything else, and SQLite (where it would still take two statements),
reads as the plain app does.
"""

from collections.abc import Awaitable, Sequence
from functools import lru_cache
from typing import Any

import strawberry
from graphql import FieldNode, SelectionNode, Undefined, value_from_ast_untyped
from sqlalchemy import func, literal_column
from sqlalchemy.sql import Select
from strawberry.types import Info

from core.errors import BadUserInput
from core.pages import Page
from core.viewer import Viewer
from fastpath.compiled import chat_screen, inbox_screen
from models.database import GatedEngine, built_once, fetch
from models.tables import conversation_t, message_t
from resolvers import conversations as conversations_resolvers
from resolvers.context import Context
from resolvers.ids import decode_id
from resolvers.messages import messages_window
from schema.conversations import Conversation
from schema.enums import InboxFolder
from schema.inbox import inbox_field, inbox_page
from schema.inputs import NodeId
from schema.marketplace import CreatorFilter
from schema.messages import Message, message_connection
from schema.query import Query
from schema.relay import Connection
from services import inbox, messages
from services.inbox import ConversationRecord, MessageRecord

MESSAGES = "messages"
PAGE_ARGUMENTS = ("first", "after", "last", "before")


def messages_arguments(info: Info[Context, None]) -> dict[str, Any] | None:
    """The arguments given to `messages` under this root field when the selection is plain: the field
    selected once at the operation's root (which spreads no fragment), `messages` once directly in it
    (not through a fragment) and without directives. None otherwise."""
    if info.path.prev is not None:
        return None
    root = _fields(info.operation.selection_set.selections)
    mine = [field for field in root or () if (field.alias or field.name).value == info.path.key]
    if len(mine) != 1 or mine[0].selection_set is None:
        return None
    selections = _fields(mine[0].selection_set.selections)
    matches = [field for field in selections or () if field.name.value == MESSAGES]
    if len(matches) != 1 or matches[0].directives:
        return None
    arguments = {}
    for argument in matches[0].arguments or ():
        # Validated already: a literal is of the argument's type, a variable's value is coerced.
        value = value_from_ast_untyped(argument.value, info.variable_values)
        if value is not Undefined:  # a variable the request left out: as if the argument were
            arguments[argument.name.value] = value
    return arguments


def _fields(selections: Sequence[SelectionNode]) -> list[FieldNode] | None:
    """The selections if they are all fields (no fragment), else None."""
    fields = [selection for selection in selections if isinstance(selection, FieldNode)]
    return fields if len(fields) == len(selections) else None


def _window(arguments: dict[str, Any] | None) -> dict[str, int | None] | None:
    """The `list_messages` window of the arguments, or None: invalid ones are refused where they were
    given, by the `messages` field itself."""
    if arguments is None:
        return None
    try:
        return messages_window(**arguments)
    except BadUserInput:
        return None


class ReadAheadConversation(Conversation):
    """A conversation read with a page of its messages: `messages` with the arguments the page was
    read for answers it at once (no awaitable to run). It resolves as a Conversation; not a type of
    its own."""

    read_ahead: tuple[tuple[Any, ...], Page]  # (the page's arguments, in PAGE_ARGUMENTS order; the page)

    def message_page(
        self, ctx: Context, first: int | None, after: str | None, last: int | None, before: str | None
    ) -> Connection[Message] | Awaitable[Connection[Message]]:
        arguments, page = self.read_ahead
        if (first, after, last, before) == arguments:
            return message_connection(page, ctx.viewer, self.other_read)
        return super().message_page(ctx, first, after, last, before)


async def compiled_inbox_page(
    info: Info[Context, None],
    folder: InboxFolder | None,
    flt: CreatorFilter | None,
    first: int | None,
    after: str | None,
) -> Connection[Conversation]:
    """The inbox page by its compiled statement (completed already: fastpath/execution.py), or as the
    plain app reads it."""
    compiled = await inbox_screen(info, (folder or InboxFolder.ALL).value, flt, first, after)
    if compiled is not None:
        return compiled  # type: ignore[return-value]
    return await inbox_page(info.context, folder, flt, first, after)


@strawberry.type(name="Query")
class ReadAheadQuery(Query):
    @strawberry.field
    async def conversation(self, info: Info[Context, None], id: NodeId) -> Conversation | None:
        ctx = info.context
        arguments = messages_arguments(info) if ctx.reader.dialect.name == "postgresql" else None
        compiled = await chat_screen(info, id, arguments)
        if compiled is not None:  # completed already (fastpath/execution.py); None if not visible
            return compiled if compiled.data is not None else None  # type: ignore[return-value]
        window = _window(arguments)
        if arguments is None or window is None:  # as the plain app reads it
            row = await conversations_resolvers.conversation(ctx, id)
            return Conversation.from_row(row, ctx.viewer) if row else None
        pk = decode_id(id, "Conversation")
        row, page = await conversation_with_messages(ctx.reader, ctx.viewer, pk, **window)
        if row is None or page is None:  # both or neither
            return None
        ctx.loaders.prime_conversations([row])
        conversation = ReadAheadConversation.from_row(row, ctx.viewer)
        conversation.read_ahead = (tuple(arguments.get(name) for name in PAGE_ARGUMENTS), page)
        return conversation

    conversations = inbox_field(compiled_inbox_page)


async def conversation_with_messages(
    db: GatedEngine,
    viewer: Viewer,
    conversation_id: int,
    *,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
) -> tuple[ConversationRecord | None, Page | None]:
    """A conversation the viewer may see (a record of `inbox.conversation_record`) and a page of its
    messages, as `messages.list_messages` pages them, in one statement; (None, None) if the viewer may
    not see it."""
    statement = _conversation_messages_statement(
        viewer.side, after is not None, before is not None, newest_first=last is not None
    )
    size = last or first
    assert size is not None, "resolvers.messages.messages_window gives first or last"
    params = {"owner": viewer.owner_id, "keys": conversation_id, "after": after, "before": before, "limit": size + 1}
    rows = await fetch(db, statement, params)
    if not rows:
        return None, None
    *conversation, page = rows[0]
    # The elements' fields come in the table's column order, which the migrations make the model's
    # (tests/test_fast_execution.py compares the pages with the plain app's).
    records = [MessageRecord._make(element) for element in page]
    return inbox.conversation_record(conversation), messages.page_of(records, first, after, last, before)


@lru_cache(maxsize=16)
def _conversation_messages_statement(side: str, has_after: bool, has_before: bool, newest_first: bool) -> Select:
    """A conversation by id, as `inbox` reads it, with one shape of messages page as a last column:
    `ARRAY(SELECT m FROM message m ... LIMIT n)`, an array of whole `message` rows (PostgreSQL)."""
    m = message_t.alias("m")
    page = messages.messages_query(m, conversation_t.c.id, has_after, has_before, newest_first)
    array = func.array(page.with_only_columns(literal_column(m.name)).scalar_subquery())
    return built_once(inbox.conversations_query(side, "id", many=False).add_columns(array))
