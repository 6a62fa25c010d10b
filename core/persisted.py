"""Documents known by their SHA-256: Apollo's automatic persisted queries, and trusted documents.

Without a manifest, any client may register a document under its hash (the hash is always computed
here from the text, so a hash never names another text). With Redis every process shares them:
a key per hash that expires TTL_SECONDS after its last use. Without Redis each process keeps the
most recently used in memory. If Redis cannot be reached a lookup finds nothing, so clients send
the text again and nothing fails.

With `INBOX_TRUSTED_DOCUMENTS` (a manifest read once at startup) only the manifest's documents
run, and nothing can be registered.
"""

import hashlib
import json
import logging
from collections import OrderedDict
from pathlib import Path

from core.redis_client import REDIS_UNAVAILABLE, SHARED_TIMEOUTS, redis_client

log = logging.getLogger("inbox.persisted")

TTL_SECONDS = 24 * 3600
# Larger documents are run but not kept. Within the token limit (INBOX_MAX_TOKENS, 2,000) a document
# printed by a client, one field a line and indented, stays well below it.
MAX_DOCUMENT_BYTES = 64 * 1024
MEMORY_BUDGET_BYTES = 8 * 1024 * 1024  # what one process keeps without Redis
APOLLO_MANIFEST = "apollo-persisted-query-manifest"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ManifestError(ValueError):
    """A trusted-documents manifest the server cannot use; the message says why, in one line."""


class MemoryQueryStore:
    """The most recently used documents of one process, within MEMORY_BUDGET_BYTES of text."""

    def __init__(self, budget: int = MEMORY_BUDGET_BYTES):
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0
        self._budget = budget

    async def get(self, query_hash: str) -> str | None:
        document = self._documents.get(query_hash)
        if document is not None:
            self._documents.move_to_end(query_hash)
        return document

    async def add(self, query_hash: str, document: str) -> None:
        if query_hash in self._documents:
            self._documents.move_to_end(query_hash)
            return
        self._documents[query_hash] = document
        self._bytes += len(document)
        while self._bytes > self._budget:
            _, evicted = self._documents.popitem(last=False)
            self._bytes -= len(evicted)

    async def close(self) -> None:
        pass


class RedisQueryStore:
    """Documents shared by every process: `inbox:apq:<hash>`, expiring TTL_SECONDS after last use."""

    def __init__(self, url: str, cluster: bool = False):
        self._redis = redis_client(url, cluster, **SHARED_TIMEOUTS)

    async def get(self, query_hash: str) -> str | None:
        try:
            document = await self._redis.getex(f"inbox:apq:{query_hash}", ex=TTL_SECONDS)
        except REDIS_UNAVAILABLE as error:
            log.warning("persisted queries unavailable, asking for the text: %s", error)
            return None
        return document.decode() if isinstance(document, bytes) else document

    async def add(self, query_hash: str, document: str) -> None:
        try:
            await self._redis.set(f"inbox:apq:{query_hash}", document, ex=TTL_SECONDS)
        except REDIS_UNAVAILABLE as error:
            log.warning("persisted query not stored: %s", error)

    async def close(self) -> None:
        await self._redis.aclose()


class PersistedQueries:
    """What a hash names and which documents may run: in trusted mode (`trusted`, hash -> text)
    only the manifest's, by hash or by text; otherwise any, and clients register them in `store`."""

    def __init__(self, store: MemoryQueryStore | RedisQueryStore | None, trusted: dict[str, str] | None = None):
        self.store = store
        self.trusted = trusted

    async def lookup(self, query_hash: str) -> str | None:
        if self.trusted is not None:
            return self.trusted.get(query_hash)
        assert self.store is not None, "only trusted mode has no store"
        return await self.store.get(query_hash)

    def allows(self, document: str) -> bool:
        return self.trusted is None or sha256_hex(document) in self.trusted

    async def register(self, document: str) -> None:
        """Keep a document that has passed parsing, validation and the limits (not in trusted mode)."""
        if self.trusted is None and len(document.encode()) <= MAX_DOCUMENT_BYTES:
            assert self.store is not None, "only trusted mode has no store"
            await self.store.add(sha256_hex(document), document)

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()


def create_persisted_queries(redis_url: str | None, manifest: Path | None, cluster: bool = False) -> PersistedQueries:
    if manifest is not None:
        return PersistedQueries(None, load_manifest(manifest))
    return PersistedQueries(RedisQueryStore(redis_url, cluster) if redis_url else MemoryQueryStore())


def load_manifest(path: Path) -> dict[str, str]:
    """hash -> document from a JSON object of them, or from Apollo's persisted query manifest
    (`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "body", ...}]}`).
    Every hash must be the SHA-256 of its document, as clients compute it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ManifestError(f"cannot read {path}: {error.strerror}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path} is not JSON: {error}") from None
    if isinstance(data, dict) and data.get("format") == APOLLO_MANIFEST:
        entries = _apollo_entries(path, data)
    elif isinstance(data, dict):
        entries = [(f"{key!r}", key, body) for key, body in data.items()]
    else:
        raise ManifestError(f"{path} must be a JSON object of hash -> document, or an Apollo manifest")
    documents: dict[str, str] = {}
    for where, query_hash, body in entries:
        if not isinstance(body, str) or not body.strip():
            raise ManifestError(f"{path}: {where}: the document must be a non-empty string")
        if not (isinstance(query_hash, str) and query_hash == sha256_hex(body)):
            raise ManifestError(f"{path}: {where}: the hash is not the SHA-256 of the document ({sha256_hex(body)})")
        documents[query_hash] = body
    if not documents:
        raise ManifestError(f"{path} holds no documents")
    return documents


def _apollo_entries(path: Path, data: dict[str, object]) -> list[tuple[str, object, object]]:
    operations = data.get("operations")
    if data.get("version") != 1 or not isinstance(operations, list):
        raise ManifestError(f'{path}: an Apollo manifest needs "version": 1 and a list of "operations"')
    if not all(isinstance(operation, dict) for operation in operations):
        raise ManifestError(f'{path}: every operation must be an object with "id" and "body"')
    return [
        (f"operations[{index}]", operation.get("id"), operation.get("body"))
        for index, operation in enumerate(operations)
    ]
