"""Per-request DataLoaders, one per relation, each batching its keys into one query."""

from collections.abc import Awaitable, Callable
from contextlib import suppress

from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.dataloader import DataLoader

from models import Creator, Message, Product, SampleRequest, Shop, TargetCollaboration
from services import catalog, inbox, lookups
from services.viewer import Viewer


class Loaders:
    """The loaders of one request (or one delivered subscription event); never shared."""

    def __init__(self, engine: AsyncEngine, viewer: Viewer):
        self._engine = engine
        self._viewer = viewer
        self.shop_by_id = self._loader(lambda conn, keys: lookups.rows_by_key(conn, Shop.__table__, keys))
        self.creator_by_id = self._loader(lambda conn, keys: lookups.rows_by_key(conn, Creator.__table__, keys))
        self.product_by_id = self._loader(lambda conn, keys: lookups.rows_by_key(conn, Product.__table__, keys))
        self.message_by_id = self._loader(lambda conn, keys: lookups.rows_by_key(conn, Message.__table__, keys))
        self.collaboration_by_id = self._loader(
            lambda conn, keys: lookups.rows_by_key(conn, TargetCollaboration.__table__, keys))
        self.sample_request_by_id = self._loader(
            lambda conn, keys: lookups.rows_by_key(conn, SampleRequest.__table__, keys))
        self.sample_requests_by_conversation = self._loader(
            lambda conn, keys: lookups.rows_grouped_by(conn, SampleRequest.__table__, keys, "conversation_id"),
            default=[])
        self.products_by_collaboration = self._loader(catalog.products_by_collaboration, default=[])
        # Viewer-relative: only what the viewer may see comes back.
        self.conversation_by_id = self._loader(
            lambda conn, keys: inbox.conversations_by_ids(conn, viewer, keys))
        self.conversation_by_creator = self._loader(
            lambda conn, keys: inbox.conversations_by_creators(conn, viewer, keys))
        self.creator_blocked = self._loader(
            lambda conn, keys: inbox.blocked_creators(conn, viewer.shop_id, keys), default=False)

    def _loader(self, fetch: Callable[..., Awaitable[dict]], default=None) -> DataLoader:
        async def load(keys: list) -> list:
            async with self._engine.connect() as conn:
                found = await fetch(conn, list(keys))
            return [found.get(key, default) for key in keys]

        return DataLoader(load_fn=load)

    @staticmethod
    def forget(loader: DataLoader, key) -> None:
        """Drop a cached value so the next load reads it anew (after a write)."""
        with suppress(KeyError):  # strawberry's clear() raises for a key never loaded
            loader.clear(key)

    def prime_conversations(self, rows) -> None:
        """Seed the conversation loader from records of `inbox.conversation_select`."""
        for row in rows:
            self.conversation_by_id.prime(row.id, row)
