"""Parsed and validated documents, cached across requests.

strawberry's `ParserCache` and `ValidationCache` are `lru_cache`s, and the validation one
hashes the whole document on every lookup: graphql-core 3.3 hashes an AST node by hashing
all of its fields, recursively (7.5 µs for the messages page, more for bigger documents).
Here documents are cached by query text and validation results by the identity of the parsed
document, which the parse cache hands every request of one query text.
"""

from functools import lru_cache

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    parse,
    validate,
)
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from schema.identity_cache import IdentityCache

CACHE_SIZE = 1024
# The rules strawberry's own validate_document adds to the ones it is given.
STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)
_VALIDATIONS: IdentityCache[list[GraphQLError]] = IdentityCache(CACHE_SIZE)
INTROSPECTION_ROOT_FIELDS = frozenset({"__schema", "__type"})


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
    schema, rules = context.schema._schema, context.validation_rules
    context.graphql_document = document
    context.pre_execution_errors = _VALIDATIONS.get(
        (schema, document, rules), lambda: validate(schema, document, (*rules, *STRAWBERRY_RULES),
                                                    hide_suggestions=hide_suggestions))


def is_introspection_only(query: str, max_tokens: int | None) -> bool:
    """Whether every operation of the document is a query selecting only `__schema` and `__type` at
    its root (fragment definitions are allowed: they can only be spread below those fields)."""
    document = _parsed(query, max_tokens)
    if document is None:
        return False
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    return bool(operations) and all(
        operation.operation is OperationType.QUERY and all(
            isinstance(selection, FieldNode) and selection.name.value in INTROSPECTION_ROOT_FIELDS
            for selection in operation.selection_set.selections)
        for operation in operations)
