"""Per-request DataLoaders, one per relation, each batching its keys into one query."""

from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from contextlib import suppress
from functools import cached_property
from typing import Any

from sqlalchemy import Table
from strawberry.dataloader import DataLoader

from core.pages import Page
from core.viewer import Viewer
from models.database import GatedEngine
from models.tables import (
    collaboration_t,
    creator_t,
    image_t,
    message_t,
    product_t,
    sample_t,
    shop_t,
    webhook_delivery_t,
    webhook_endpoint_t,
)
from services import blocks, catalog, inbox, loaders, webhooks
from services.inbox import ConversationRecord

# What a loader runs: (engine, keys) -> {key: value}.
Fetch = Callable[[GatedEngine, list[Any]], Awaitable[Mapping[Any, Any]]]


def _by_id(table: Table) -> Fetch:
    return lambda db, keys: loaders.rows_by_key(db, table, keys)


class Loaders:
    """The loaders of one request (or one delivered subscription event); never shared.

    Each loader is made on first use: most operations need one or two of them, and an idle
    WebSocket holds a context for as long as it is open. A table's rows come as `fetch` reads
    them (SQLAlchemy's Row, or the speed layer's asyncpg `Row`): `Any` below.
    """

    def __init__(self, engine: GatedEngine, viewer: Viewer) -> None:
        self._engine = engine
        self._viewer = viewer
        self._primed_conversations: dict[int, ConversationRecord] = {}  # for the conversation loader, once made

    @cached_property
    def shop_by_id(self) -> DataLoader[int, Any]:
        return self._loader(_by_id(shop_t))

    @cached_property
    def creator_by_id(self) -> DataLoader[int, Any]:
        return self._loader(_by_id(creator_t))

    @cached_property
    def product_by_id(self) -> DataLoader[int, Any]:
        return self._loader(_by_id(product_t))

    @cached_property
    def message_by_id(self) -> DataLoader[int, Any]:
        return self._loader(_by_id(message_t))

    @cached_property
    def image_by_id(self) -> DataLoader[int, Any]:
        """Images of the messages read (their access is the message's)."""
        return self._loader(_by_id(image_t))

    @cached_property
    def collaboration_by_id(self) -> DataLoader[int, Any]:
        return self._loader(_by_id(collaboration_t))

    @cached_property
    def sample_request_by_id(self) -> DataLoader[int, Any]:
        return self._loader(_by_id(sample_t))

    @cached_property
    def sample_requests_by_conversation(self) -> DataLoader[int, list[Any]]:
        return self._loader(lambda db, keys: loaders.rows_grouped_by(db, sample_t, keys, "conversation_id"), default=[])

    @cached_property
    def products_by_collaboration(self) -> DataLoader[int, list[Any]]:
        return self._loader(catalog.products_by_collaboration, default=[])

    @cached_property
    def webhook_endpoint_by_id(self) -> DataLoader[int, Any]:
        return self._loader(_by_id(webhook_endpoint_t))

    @cached_property
    def webhook_delivery_by_id(self) -> DataLoader[int, Any]:
        return self._loader(_by_id(webhook_delivery_t))

    @cached_property
    def webhook_deliveries(self) -> DataLoader[webhooks.DeliveryPageKey, Page]:
        """Pages of endpoints' deliveries (the resolver checked the endpoints are the viewer's)."""
        return self._loader(webhooks.delivery_pages)

    # Viewer-relative: only what the viewer may see comes back.
    @cached_property
    def conversation_by_id(self) -> DataLoader[int, ConversationRecord | None]:
        loader = self._loader(lambda db, keys: inbox.conversations_by_ids(db, self._viewer, keys))
        loader.prime_many(self._primed_conversations)
        return loader

    @cached_property
    def conversation_by_creator(self) -> DataLoader[int, ConversationRecord | None]:
        return self._loader(lambda db, keys: inbox.conversations_by_creators(db, self._viewer, keys))

    @cached_property
    def creator_blocked(self) -> DataLoader[int, bool]:
        return self._loader(lambda db, keys: inbox.blocked_creators(db, self._viewer.shop_id, keys), default=False)

    @cached_property
    def shop_blocked(self) -> DataLoader[int, bool]:
        return self._loader(lambda db, keys: blocks.blocked_shops(db, self._viewer.own_creator_id, keys), default=False)

    def _loader(self, fetch: Fetch, default: Any = None) -> DataLoader[Any, Any]:
        async def load(keys: list[Any]) -> list[Any]:
            found = await fetch(self._engine, list(keys))  # one statement on one pooled connection
            return [found.get(key, default) for key in keys]

        return DataLoader(load_fn=load)

    @staticmethod
    def forget(loader: DataLoader[Any, Any], key: Hashable) -> None:
        """Drop a cached value so the next load reads it anew (after a write)."""
        with suppress(KeyError):  # strawberry's clear() raises for a key never loaded
            loader.clear(key)

    def prime_conversations(self, rows: Iterable[ConversationRecord]) -> None:
        """Seed the conversation loader from records of `inbox.conversation_record`. Until some
        field loads a conversation, they are only kept: most pages never do, and priming a
        DataLoader costs a future per row."""
        if "conversation_by_id" in self.__dict__:  # the loader is made
            self.conversation_by_id.prime_many({row.id: row for row in rows})
        else:
            for row in rows:
                self._primed_conversations.setdefault(row.id, row)
