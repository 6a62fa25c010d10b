"""Per-request DataLoaders, one per relation, each batching its keys into one query."""

from collections.abc import Awaitable, Callable
from contextlib import suppress
from functools import cached_property

from strawberry.dataloader import DataLoader

from core.viewer import Viewer
from models import Creator, Message, Product, SampleRequest, Shop, TargetCollaboration
from models.database import GatedEngine
from services import blocks, catalog, inbox, loaders


def _by_id(table) -> Callable[..., Awaitable[dict]]:
    return lambda db, keys: loaders.rows_by_key(db, table, keys)


class Loaders:
    """The loaders of one request (or one delivered subscription event); never shared.

    Each loader is made on first use: most operations need one or two of them, and an idle
    WebSocket holds a context for as long as it is open.
    """

    def __init__(self, engine: GatedEngine, viewer: Viewer):
        self._engine = engine
        self._viewer = viewer
        # Pages of messages read ahead with their conversation, by (conversation id, page arguments).
        self.message_pages: dict[tuple, object] = {}
        self._primed_conversations: dict[int, object] = {}  # for the conversation loader, once made

    @cached_property
    def shop_by_id(self) -> DataLoader:
        return self._loader(_by_id(Shop.__table__))

    @cached_property
    def creator_by_id(self) -> DataLoader:
        return self._loader(_by_id(Creator.__table__))

    @cached_property
    def product_by_id(self) -> DataLoader:
        return self._loader(_by_id(Product.__table__))

    @cached_property
    def message_by_id(self) -> DataLoader:
        return self._loader(_by_id(Message.__table__))

    @cached_property
    def collaboration_by_id(self) -> DataLoader:
        return self._loader(_by_id(TargetCollaboration.__table__))

    @cached_property
    def sample_request_by_id(self) -> DataLoader:
        return self._loader(_by_id(SampleRequest.__table__))

    @cached_property
    def sample_requests_by_conversation(self) -> DataLoader:
        return self._loader(lambda db, keys: loaders.rows_grouped_by(
            db, SampleRequest.__table__, keys, "conversation_id"), default=[])

    @cached_property
    def products_by_collaboration(self) -> DataLoader:
        return self._loader(catalog.products_by_collaboration, default=[])

    # Viewer-relative: only what the viewer may see comes back.
    @cached_property
    def conversation_by_id(self) -> DataLoader:
        loader = self._loader(lambda db, keys: inbox.conversations_by_ids(db, self._viewer, keys))
        loader.prime_many(self._primed_conversations)
        return loader

    @cached_property
    def conversation_by_creator(self) -> DataLoader:
        return self._loader(lambda db, keys: inbox.conversations_by_creators(db, self._viewer, keys))

    @cached_property
    def creator_blocked(self) -> DataLoader:
        return self._loader(lambda db, keys: inbox.blocked_creators(db, self._viewer.shop_id, keys),
                            default=False)

    @cached_property
    def shop_blocked(self) -> DataLoader:
        return self._loader(lambda db, keys: blocks.blocked_shops(db, self._viewer.creator_id, keys),
                            default=False)

    def _loader(self, fetch: Callable[..., Awaitable[dict]], default=None) -> DataLoader:
        async def load(keys: list) -> list:
            found = await fetch(self._engine, list(keys))  # one statement on one pooled connection
            return [found.get(key, default) for key in keys]

        return DataLoader(load_fn=load)

    @staticmethod
    def forget(loader: DataLoader, key) -> None:
        """Drop a cached value so the next load reads it anew (after a write)."""
        with suppress(KeyError):  # strawberry's clear() raises for a key never loaded
            loader.clear(key)

    def prime_conversations(self, rows) -> None:
        """Seed the conversation loader from records of `inbox.conversation_record`. Until some
        field loads a conversation, they are only kept: most pages never do, and priming a
        DataLoader costs a future per row."""
        if "conversation_by_id" in self.__dict__:  # the loader is made
            self.conversation_by_id.prime_many({row.id: row for row in rows})
        else:
            for row in rows:
                self._primed_conversations.setdefault(row.id, row)
