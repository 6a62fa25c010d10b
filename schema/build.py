"""Assembles the schema from the root types, once per configuration."""

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
from strawberry.schema.schema import StreamResult
from strawberry.types import ExecutionContext

from core.errors import ErrorCode
from schema.errors import classify
from schema.fast_execution import FastExecutionContext
from schema.inputs import guard_inputs
from schema.limits import Limits, validation_rules
from schema.live import Subscription
from schema.mutation import Mutation
from schema.pipeline import pipeline_extension
from schema.query import Query
from schema.scalars import DECIMAL


class CachedNameConverter(NameConverter):
    """strawberry's camelCase names, each computed once: resolving a field converts the name of
    every argument it declares, on every request."""

    def __init__(self) -> None:
        super().__init__()
        self._names: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        converted = self._names.get(name)
        if converted is None:
            converted = self._names[name] = super().apply_naming_config(name)
        return converted


class InboxSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            classify(error)

    async def subscribe(  # type: ignore[override]  # any operation's stream, wider than a subscription's
            self, query: str | None, variable_values: dict[str, Any] | None = None, context_value: Any = None,
            root_value: Any = None, operation_name: str | None = None,
            operation_extensions: dict[str, Any] | None = None) -> StreamResult:
        """Any operation, streamed. strawberry's legacy `graphql-ws` handler is the only caller, and
        that protocol's `start` carries queries and mutations too: they run as over
        graphql-transport-ws (one result, then `complete`) instead of failing as "not allowed"."""
        return await self.stream(query, variable_values, context_value, root_value, operation_name,
                                 operation_extensions)

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


class QuietExecutionContext(FastExecutionContext):
    """Execution without "Did you mean" suggestions in variable and argument errors (production):
    they would describe the schema that production hides."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> list[GraphQLError] | Executor[Any]:
        return super().build(*args, **{**kwargs, "hide_suggestions": True})


@lru_cache(maxsize=8)
def build_schema(limits: Limits = Limits(), production: bool = False) -> InboxSchema:
    """The schema with its limits; production also hides introspection and every suggestion."""
    rules = validation_rules(limits, production)
    built = InboxSchema(
        query=Query, mutation=Mutation, subscription=Subscription,
        config=StrawberryConfig(disable_field_suggestions=production, name_converter=CachedNameConverter(),
                                scalar_map={Decimal: DECIMAL}),
        execution_context_class=QuietExecutionContext if production else FastExecutionContext,
        extensions=[pipeline_extension(limits, rules, production)])
    guard_inputs(built._schema)
    return built


schema = build_schema()
