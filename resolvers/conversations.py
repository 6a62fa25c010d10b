"""The inbox, one conversation, its messages and the folder counts."""

from collections.abc import Awaitable

from resolvers.context import Context
from resolvers.ids import (
    cursor_datetime,
    cursor_int,
    decode_cursor,
    decode_id,
    decode_node_cursor,
    encode_cursor,
    page_size,
)
from services import history, inbox
from services.errors import BadUserInput
from services.history import Page

DEFAULT_MESSAGES = 20


def conversation_cursor(row) -> str:
    return encode_cursor(row.last_activity_at.isoformat(), row.id)


def decode_message_cursor(value: str | None) -> int | None:
    """A message's cursor (its ID, or the bare id cursor of earlier releases)."""
    return decode_node_cursor(value, "Message")


def creator_filter(flt) -> inbox.CreatorFilter | None:
    """The service filter of a `CreatorFilter` input."""
    if flt is None:
        return None
    if flt.categories is not None and len(flt.categories) > inbox.MAX_CATEGORIES:
        raise BadUserInput(f"filter.categories may list at most {inbox.MAX_CATEGORIES} categories.")
    return inbox.CreatorFilter(
        min_followers=flt.min_followers, max_followers=flt.max_followers, categories=flt.categories,
        min_gmv=flt.min_gmv, max_gmv=flt.max_gmv, search=flt.search)


async def conversations(ctx: Context, folder: str, flt, first: int | None, after: str | None) -> Page:
    """A page of the viewer's inbox folder; the loaders are primed with its rows."""
    size = page_size(first, 20)
    cursor = decode_cursor(after, cursor_datetime, cursor_int)
    rows, has_next = await inbox.list_conversations(ctx.reader, ctx.viewer, folder, creator_filter(flt), size, cursor)
    ctx.loaders.prime_conversations(rows)
    return Page(rows, has_next, cursor is not None)


async def conversation(ctx: Context, conversation_id: str, messages_arguments: dict | None = None):
    """The conversation row, if the viewer may see it.

    `messages_arguments` are those of the conversation's `messages` field when the query asks
    for it: that page is then read in the same statement and kept for `messages`."""
    pk = decode_id(conversation_id, "Conversation")
    window = _valid_window(messages_arguments)
    if window is None:
        return await ctx.loaders.conversation_by_id.load(pk)
    row, page = await history.conversation_with_messages(ctx.reader, ctx.viewer, pk, **window)
    if row is not None:
        ctx.loaders.prime_conversations([row])
        ctx.loaders.message_pages[pk, _arguments_key(messages_arguments)] = page
    return row


async def counts(ctx: Context) -> dict[str, int]:
    return await inbox.inbox_counts(ctx.reader, ctx.viewer)


def read_messages(ctx: Context, conversation_pk: int, first: int | None, after: str | None,
                  last: int | None, before: str | None) -> Page | Awaitable[Page]:
    """Messages of a conversation the viewer already reached (so already authorised): the page
    the conversation lookup read with it if it did (at once, and once: a WebSocket's context
    outlives its operations), else an awaitable read."""
    arguments = {"first": first, "after": after, "last": last, "before": before}
    page = ctx.loaders.message_pages.pop((conversation_pk, _arguments_key(arguments)), None)
    if page is not None:
        return page
    return history.list_messages(ctx.reader, conversation_pk, **_window(**arguments))


def _window(first: int | None = None, after: str | None = None, last: int | None = None,
            before: str | None = None) -> dict:
    """`list_messages` arguments of a messages page's arguments (BadUserInput when invalid)."""
    if (first is not None or after is not None) and (last is not None or before is not None):
        raise BadUserInput("Page with first/after or with last/before, not both.")
    after_id, before_id = decode_message_cursor(after), decode_message_cursor(before)
    if first is not None or after is not None:
        return {"first": page_size(first, DEFAULT_MESSAGES), "after": after_id}
    return {"last": page_size(last, DEFAULT_MESSAGES, "last"), "before": before_id}


def _valid_window(arguments: dict | None) -> dict | None:
    """The window of arguments given for a read ahead, or None: invalid ones are refused where
    they were given, by the `messages` field itself."""
    if arguments is None:
        return None
    try:
        return _window(**arguments)
    except BadUserInput:
        return None


def _arguments_key(arguments: dict) -> tuple:
    return tuple(arguments.get(name) for name in ("first", "after", "last", "before"))
