"""Persisted queries as requests carry them: Apollo's automatic persisted queries and trusted documents.

An HTTP request may name its document by hash, `extensions.persistedQuery = {version: 1, sha256Hash}`,
with the text or without it: Apollo's PersistedQueryLink sends the hash alone, and the text too only
after PERSISTED_QUERY_NOT_FOUND. Three steps, where each has what it needs:
- the view resolves the hash before strawberry runs (`resolve`), or answers the error itself;
- the operation pipeline registers a text sent with its hash once it has parsed, validated and
  passed the limits (`register`), so only documents that can run are kept;
- in trusted mode the pipeline refuses every other document, on every transport (`refuse_untrusted`).
strawberry's WebSocket handlers do not pass `extensions` on, so a hash means nothing there (Apollo's
link is for HTTP); a WebSocket still runs only trusted documents in trusted mode.
"""

import re
from typing import Any, TypeGuard, TypeVar

from graphql import GraphQLError
from strawberry.types import ExecutionContext

from core.errors import ErrorCode, InboxError
from core.persisted import PersistedQueries, sha256_hex

EXTENSION = "persistedQuery"
HASH = re.compile(r"[0-9a-fA-F]{64}")
# As Apollo Server: a cache between client and server must not keep a miss (or any of these answers).
NO_CACHE = {"Cache-Control": "private, no-cache, must-revalidate"}
NOT_ALLOWED = ErrorCode.PERSISTED_QUERY_NOT_ALLOWED
Q = TypeVar("Q")
NOT_ALLOWED_MESSAGE = "Only the server's trusted documents may run, and this is not one of them."


class PersistedQueryError(InboxError):
    """A refused persisted query, answered by the view with `status`: 200 for what a client acts on
    (with `application/json`, Apollo Client reads the errors of a 200 only), 400 for a broken request."""

    def __init__(self, message: str, code: ErrorCode, status: int = 400) -> None:
        super().__init__(message, code=code)
        self.status = status


def names_persisted_query(extensions: object) -> TypeGuard[dict[str, Any]]:
    return type(extensions) is dict and EXTENSION in extensions


async def resolve(persisted: PersistedQueries, query: Q, extensions: dict[str, Any]) -> tuple[Q | str, dict[str, Any]]:
    """The query an HTTP request naming a persisted query runs, and the extensions to run it with:
    without `persistedQuery` when the text came from the server, so that the pipeline does not
    register it again."""
    query_hash = _hash(extensions[EXTENSION])
    if query is None:
        document = await persisted.lookup(query_hash)
        if document is None:
            if persisted.trusted is not None:
                raise PersistedQueryError(NOT_ALLOWED_MESSAGE, NOT_ALLOWED, 200)
            # Exactly Apollo Server's answer, which Apollo's link and others retry with the text.
            raise PersistedQueryError("PersistedQueryNotFound", ErrorCode.PERSISTED_QUERY_NOT_FOUND, 200)
        return document, {key: value for key, value in extensions.items() if key != EXTENSION}
    if isinstance(query, str) and sha256_hex(query) != query_hash:
        # The hash is checked so that no client can file another text under a known document's hash.
        raise PersistedQueryError("provided sha does not match query", ErrorCode.PERSISTED_QUERY_HASH_MISMATCH)
    return query, extensions


def _hash(persisted_query: object) -> str:
    if type(persisted_query) is not dict or persisted_query.get("version") != 1:
        raise PersistedQueryError("Unsupported persisted query version", ErrorCode.BAD_REQUEST)
    query_hash = persisted_query.get("sha256Hash")
    if type(query_hash) is not str or not HASH.fullmatch(query_hash):
        raise PersistedQueryError(
            "extensions.persistedQuery.sha256Hash must be a SHA-256 in hex", ErrorCode.BAD_REQUEST
        )
    return query_hash.lower()


def refuse_untrusted(persisted: PersistedQueries, context: ExecutionContext) -> None:
    """In trusted mode, refuse a parsed document that is not in the manifest before it runs, as a
    validation error would be (which reaches the client on every transport). A text that does not
    parse is refused by strawberry with its syntax error."""
    query = context.query  # None only where no document parsed
    if persisted.trusted is None or context.graphql_document is None or query is None or persisted.allows(query):
        return
    context.pre_execution_errors = [GraphQLError(NOT_ALLOWED_MESSAGE, extensions={"code": NOT_ALLOWED})]


async def register(persisted: PersistedQueries, context: ExecutionContext) -> None:
    """Keep the text of an operation about to run that came with its hash (checked by `resolve`)."""
    if names_persisted_query(context.operation_extensions) and context.query is not None:
        await persisted.register(context.query)
