"""A bounded cache keyed by the identity of long-lived objects (parsed documents, their nodes)."""

from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityCache(Generic[V]):
    """Values by the identity of key objects.

    Hashing a parsed document or its nodes walks the whole tree; identity is enough, since
    strawberry's parser cache hands every request of one query text the same objects. Each entry
    keeps its key objects alive, so no id in a key is reused while the entry exists. Cleared when
    full.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._entries: dict[tuple[int, ...], tuple[tuple, V]] = {}

    def get(self, objects: tuple, make: Callable[[], V]) -> V:
        """The value for these objects, made by `make` the first time (it may use the cache)."""
        key = tuple(map(id, objects))
        entry = self._entries.get(key)
        if entry is None:
            value = make()
            if len(self._entries) >= self._limit:
                self._entries.clear()
            entry = self._entries[key] = (objects, value)
        return entry[1]

    def items(self) -> list[tuple[tuple, V]]:
        """(key objects, value) of every entry."""
        return list(self._entries.values())
