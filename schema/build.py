"""Assembles the schema from the root types, once per configuration."""

from functools import lru_cache

import strawberry
from strawberry.extensions import ParserCache
from strawberry.schema.config import StrawberryConfig

from schema.errors import classify
from schema.fast_execution import FastExecutionContext
from schema.limits import Limits, limits_extension, validation_rules
from schema.mutation import Mutation
from schema.observability import OperationObserver
from schema.query import Query
from schema.subscription import Subscription
from schema.validation_cache import DocumentValidationCache

CACHE_SIZE = 1024


class InboxSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        for error in errors:
            classify(error)


@lru_cache(maxsize=8)
def build_schema(limits: Limits = Limits(), production: bool = False) -> InboxSchema:
    """The schema with its limits; production also hides introspection and field suggestions."""
    rules = validation_rules(limits, production)
    return InboxSchema(
        query=Query, mutation=Mutation, subscription=Subscription,
        config=StrawberryConfig(disable_field_suggestions=production),
        execution_context_class=FastExecutionContext,
        extensions=[OperationObserver, limits_extension(limits, rules),
                    lambda: ParserCache(maxsize=CACHE_SIZE), DocumentValidationCache])


schema = build_schema()
