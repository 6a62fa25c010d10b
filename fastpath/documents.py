"""Parsed and validated documents, cached across requests.

strawberry parses every request's text again, and graphql-core 3.3 hashes an AST node by hashing
all of its fields, recursively, so a cache keyed by documents walks the whole document on every
lookup. Here documents are cached by query text, and validation
results by the identity of the parsed document, which the parse cache hands every request of one
query text. strawberry then skips its own parsing and validation: it finds the operation's
`graphql_document` and `pre_execution_errors` already set.
"""

from functools import lru_cache

from graphql import DocumentNode, GraphQLError, parse
from strawberry.types import ExecutionContext

from fastpath.identity_cache import IdentityCache
from schema.pipeline import graphql_schema, validation_errors

CACHE_SIZE = 1024
_VALIDATIONS: IdentityCache[list] = IdentityCache(CACHE_SIZE)


@lru_cache(maxsize=CACHE_SIZE)
def _parsed(query: str, max_tokens: int | None) -> DocumentNode | None:
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None


def prepare_document(context: ExecutionContext, hide_suggestions: bool) -> None:
    """Give the operation its cached document and validation errors (without "Did you mean"
    suggestions when `hide_suggestions`). A query that does not parse is left to strawberry,
    which parses it again and reports the syntax error."""
    if not isinstance(context.query, str):
        return
    document = _parsed(context.query, context.parse_options.get("max_tokens"))
    if document is None:
        return
    schema, rules = graphql_schema(context), context.validation_rules
    context.graphql_document = document
    context.pre_execution_errors = _VALIDATIONS.get(
        (schema, document, rules), lambda: validation_errors(schema, document, rules, hide_suggestions)
    )
