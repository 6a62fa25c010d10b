"""Assembles the schema from the root types, once per configuration.

The speed layer builds its schema here too, with its own root query type, execution context, name
converter and pipeline (fastpath/schema.py); the defaults are strawberry's own.
"""

from collections.abc import AsyncGenerator
from contextlib import aclosing
from decimal import Decimal
from functools import lru_cache
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.execution.executor import Executor
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, StreamResult
from strawberry.types import ExecutionContext

from core.errors import ErrorCode
from schema.errors import classify
from schema.inputs import guard_inputs
from schema.limits import Limits, validation_rules
from schema.live import Subscription
from schema.mutation import Mutation
from schema.pipeline import OperationPipeline, Pipeline
from schema.query import Query
from schema.scalars import DECIMAL


class InboxSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            classify(error)

    async def subscribe(  # type: ignore[override]  # any operation's stream, wider than a subscription's
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any = None,
        root_value: Any = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> StreamResult:
        """Any operation, streamed. strawberry's legacy `graphql-ws` handler is the only caller, and
        that protocol's `start` carries queries and mutations too: they run as over
        graphql-transport-ws (one result, then `complete`) instead of failing as "not allowed"."""
        return await self.stream(
            query, variable_values, context_value, root_value, operation_name, operation_extensions
        )

    async def stream(self, *args: Any, **kwargs: Any) -> StreamResult:
        """strawberry's result stream (subscriptions, over both WebSocket protocols), ending after a
        result that the database's unavailability spoiled: a message delivered without its fields
        would otherwise count as delivered, so the client resumes with `after` instead."""
        return _until_unavailable(await super().stream(*args, **kwargs))


async def _until_unavailable(results: StreamResult) -> AsyncGenerator[Any, None]:
    async with aclosing(results):
        async for result in results:
            yield result
            errors = getattr(result, "errors", None) or ()  # incremental delivery frames may have none
            if any((error.extensions or {}).get("code") == ErrorCode.SERVICE_UNAVAILABLE for error in errors):
                return


def quiet(context_class: type[Executor]) -> type[Executor]:
    """The execution context class without "Did you mean" suggestions in variable and argument errors
    (production): they would describe the schema that production hides. Made once per schema (build_schema
    is cached)."""

    class QuietExecutionContext(context_class):  # type: ignore[valid-type,misc]  # a class made per base
        @classmethod
        def build(cls, *args: Any, **kwargs: Any) -> list[GraphQLError] | Executor[Any]:
            return super().build(*args, **{**kwargs, "hide_suggestions": True})

    return QuietExecutionContext


@lru_cache(maxsize=8)
def build_schema(
    limits: Limits = Limits(),
    production: bool = False,
    *,
    query: type = Query,
    execution_context_class: type[Executor] = StrawberryGraphQLCoreExecutionContext,
    name_converter: type[NameConverter] = NameConverter,
    pipeline: type[Pipeline] = OperationPipeline,
) -> InboxSchema:
    """The schema with its limits; production also hides introspection and every suggestion."""
    rules = validation_rules(limits, production)
    built = InboxSchema(
        query=query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(
            disable_field_suggestions=production, name_converter=name_converter(), scalar_map={Decimal: DECIMAL}
        ),
        execution_context_class=quiet(execution_context_class) if production else execution_context_class,
        extensions=[pipeline.configured(limits, rules, production)],
    )
    guard_inputs(built._schema)  # graphql-core's schema: strawberry has no public accessor
    return built


schema = build_schema()
