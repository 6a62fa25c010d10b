"""Validation results cached by the identity of the parsed document.

strawberry's `ValidationCache` is an `lru_cache` over (schema, document, rules): every lookup
hashes the whole document, and graphql-core 3.3 hashes an AST node by hashing all of its
fields, recursively. For the messages page that was 11 % of the server's CPU, more than
validating it. strawberry's `ParserCache` hands every request of one query text the same
document object, so its identity is key enough.
"""

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from schema.identity_cache import IdentityCache

CACHE_SIZE = 1024
_RESULTS: IdentityCache[list] = IdentityCache(CACHE_SIZE)


class DocumentValidationCache(SchemaExtension):
    """Validates each parsed document once per schema and set of rules."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema, document, rules = context.schema._schema, context.graphql_document, context.validation_rules
        context.pre_execution_errors = _RESULTS.get(
            (schema, document, rules), lambda: validate_document(schema, document, rules))
        yield
