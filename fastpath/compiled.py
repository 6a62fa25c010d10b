"""The root fields answered by one statement that writes their JSON (fastpath/sqljson.py).

`conversation(id)` and `conversations(...)` of the fast schema's Query try this first, on
PostgreSQL: the root field's selection is compiled once per document node and viewer side (and
statement shape), the arguments are checked by the reference's own functions, and the statement's
JSON becomes the field's completed value (`Completed`, which fastpath/execution.py returns as is),
kept as the text PostgreSQL wrote: an `orjson.Fragment`, which every encoder of the app's answers
(orjson: `InboxView.encode_json`, `schema.http_transport.fill`) writes as it is, so the page is
neither parsed nor serialized again in Python.
Where the selection is not covered, an argument is refused (the reference reports it), or the rows
hold what the compiler does not write (`ok` is false), the field resolves by the reference path.
"""

from dataclasses import dataclass
from typing import Any

import orjson
from graphql import FieldNode, GraphQLNamedType, get_named_type
from sqlalchemy.sql import Select
from strawberry.types import Info

from core.errors import BadUserInput
from fastpath.identity_cache import IdentityCache
from fastpath.sqljson import Compiler, InboxShape, MessagesShape, Unsupported, chat_statement, inbox_statement
from models.database import fetch
from resolvers.context import Context
from resolvers.ids import cursor_datetime, cursor_int, decode_cursor, decode_id, page_size
from resolvers.inbox import creator_filter
from resolvers.messages import messages_window
from services import inbox


@dataclass(frozen=True)
class Completed:
    """A field's answer already completed: the JSON text the statement wrote, or None."""

    data: orjson.Fragment | None


# Statements by root field node, then by viewer side and shape (None: not covered).
_STATEMENTS: IdentityCache[dict[Any, Select[Any] | None]] = IdentityCache(1024)


def root_field(info: Info[Context, None]) -> FieldNode | None:
    """The node of this root field when the operation selects it once, by a field (no fragment)."""
    if info.path.prev is not None:
        return None
    selections = info.operation.selection_set.selections
    mine = [
        node for node in selections if isinstance(node, FieldNode) and (node.alias or node.name).value == info.path.key
    ]
    if len(mine) != 1 or len(selections) != sum(isinstance(node, FieldNode) for node in selections):
        return None
    return None if mine[0].directives else mine[0]


def _statement(info: Info[Context, None], node: FieldNode, shape: Any, build: Any) -> Select[Any] | None:
    side = info.context.viewer.side
    statements = _STATEMENTS.get((node,), dict)
    key = (side, shape)
    if key not in statements:
        graphql_schema = info.schema._schema  # noqa: SLF001 - pinned (fastpath/__init__.py)
        assert graphql_schema.query_type is not None, "the schema has a Query"
        named: GraphQLNamedType = get_named_type(graphql_schema.query_type.fields[node.name.value].type)
        try:
            statements[key] = build(Compiler(graphql_schema, side), named, node, shape)
        except Unsupported:
            statements[key] = None
    return statements[key]


async def _run(info: Info[Context, None], statement: Select[Any], params: dict[str, Any]) -> Completed | None:
    """The statement's answer; None where the reference must answer (`ok` false)."""
    rows = await fetch(info.context.reader, statement, params)
    if not rows:
        return Completed(None)
    data, ok = rows[0]
    return Completed(orjson.Fragment(data)) if ok else None


def _covered(info: Info[Context, None]) -> FieldNode | None:
    return root_field(info) if info.context.reader.dialect.name == "postgresql" else None


async def chat_screen(
    info: Info[Context, None], id: str, messages_arguments: dict[str, Any] | None
) -> Completed | None:
    """`conversation(id)` by one statement, or None where the reference must answer."""
    node = _covered(info)
    if node is None:
        return None
    params: dict[str, Any] = {"owner": info.context.viewer.owner_id}
    shape = None
    try:
        params["keys"] = decode_id(id, "Conversation")
        if messages_arguments is not None:
            window = messages_window(**messages_arguments)
            size = window.get("last", window.get("first"))
            assert size is not None, "messages_window gives first or last"
            shape = MessagesShape(window.get("after") is not None, window.get("before") is not None, "last" in window)
            params.update(after=window.get("after"), before=window.get("before"), limit=size + 1, size=size)
    except BadUserInput:
        return None  # the reference refuses it, where it was given
    statement = _statement(info, node, shape, chat_statement)
    return None if statement is None else await _run(info, statement, params)


async def inbox_screen(
    info: Info[Context, None], folder: str, flt: Any, first: int | None, after: str | None
) -> Completed | None:
    """`conversations(...)` by one statement, or None where the reference must answer."""
    node = _covered(info)
    if node is None:
        return None
    try:
        size = page_size(first, 20)
        cursor = decode_cursor(after, cursor_datetime, cursor_int)
        params = inbox.filter_params(creator_filter(flt))
    except BadUserInput:
        return None
    shape = InboxShape(folder, frozenset(params), cursor is not None)
    statement = _statement(info, node, shape, inbox_statement)
    if statement is None:
        return None
    params.update(owner=info.context.viewer.owner_id, limit=size + 1, size=size)
    if cursor is not None:
        params.update(after_at=cursor[0], after_id=cursor[1])
    return await _run(info, statement, params)
