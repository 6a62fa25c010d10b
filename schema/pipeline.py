"""The schema extension every operation runs through.

Before an operation runs, trusted mode refuses any document not in the manifest (schema/persisted.py),
production validates without "Did you mean" suggestions, the operation limits apply
(schema/limits.py), and a text sent with its hash is registered as a persisted query; afterwards
the operation is recorded (schema/observability.py). `OperationPipeline` does this on strawberry's
own hooks, parser and validation; the speed layer's (fastpath/pipeline.py) does the same steps in
one hook, on cached documents.
"""

from collections.abc import AsyncIterator, Callable
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from models.replica import WAL_POSITION_HEADER
from schema.limits import Limits, OperationCost, admit, operation_cost, refuse_if_too_costly
from schema.observability import Observation
from schema.persisted import refuse_untrusted, register

Rules = tuple[type[ASTValidationRule], ...]
# How an operation's cost formula is found: `operation_cost`, or the speed layer's cached one.
CostOf = Callable[[GraphQLSchema, DocumentNode, str | None], OperationCost | None]
# The rules strawberry's own validation adds to those it is given (strawberry.schema.schema.validate_document).
STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)


def graphql_schema(context: ExecutionContext) -> GraphQLSchema:
    """graphql-core's schema of the operation's strawberry schema: strawberry has no public accessor
    (its own printer and validation read `_schema` too)."""
    return context.schema._schema


def validation_errors(
    schema: GraphQLSchema, document: DocumentNode, rules: Rules, hide_suggestions: bool
) -> list[GraphQLError]:
    """The document's validation errors, as strawberry's validation finds them, with or without
    "Did you mean" suggestions."""
    return validate(schema, document, (*rules, *STRAWBERRY_RULES), hide_suggestions=hide_suggestions)


class Pipeline(SchemaExtension):
    """What every pipeline shares: its schema's limits and rules, the steps before an operation runs,
    and the cost in the result's extensions. `configured` gives the class of one schema."""

    limits: Limits = Limits()
    rules: Rules = ()
    production: bool = False
    cost: int | None = None
    operation: OperationType | None = None

    @classmethod
    def configured(cls, limits: Limits, rules: Rules, production: bool) -> type["Pipeline"]:
        return type(cls.__name__, (cls,), {"limits": limits, "rules": rules, "production": production})

    def start(self) -> Observation:
        """Observe the operation, parsed with the token limit and validated with the prebuilt rules."""
        observation = Observation()
        context = self.execution_context
        context.validation_rules = self.rules
        context.parse_options["max_tokens"] = self.limits.max_tokens
        return observation

    async def admit(self, cost_of: CostOf = operation_cost) -> None:
        """Apply the limits to an operation strawberry will run, and keep its text if it came with its hash."""
        context = self.execution_context
        operation = self.operation = _operation_to_run(context)
        if operation is None:
            return
        if operation is OperationType.QUERY:
            context.context.read_from_replica()
        self.cost = _cost(context, self.production, cost_of)
        if self.cost is not None:
            refuse_if_too_costly(self.cost, self.limits.max_cost)
        await admit(context, operation)
        await register(context.context.app.persisted, context)

    async def get_results(self) -> dict[str, Any]:
        results: dict[str, Any] = {} if self.cost is None else {"cost": self.cost}
        replica = self.execution_context.context.app.replica
        if self.operation is OperationType.MUTATION and replica is not None:
            # What the client sends back (Inbox-Read-After) so that its next queries see this write.
            position = results["walPosition"] = await replica.position()
            response = self.execution_context.context.response
            if response is not None:
                response.headers[WAL_POSITION_HEADER] = position
        return results


class OperationPipeline(Pipeline):
    """The steps on strawberry's hooks: those that need the parsed document run around validation
    (an error raised there is reported as one raised by the operation hook would be)."""

    async def on_operation(self) -> AsyncIterator[None]:
        observation = self.start()
        yield
        observation.finish(self.execution_context)

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        refuse_untrusted(context.context.app.persisted, context)
        if self.production and context.pre_execution_errors is None:
            assert context.graphql_document is not None, "validation follows parsing"
            # strawberry's own validation keeps every suggestion but the field names': validated here,
            # strawberry skips validating again.
            context.pre_execution_errors = validation_errors(
                graphql_schema(context), context.graphql_document, self.rules, hide_suggestions=True
            )
        yield
        await self.admit()


def _cost(context: ExecutionContext, production: bool, cost_of: CostOf) -> int | None:
    """The operation's cost with the page sizes of this request; None if its variables do not
    coerce (execution refuses it then, before anything runs)."""
    schema = graphql_schema(context)
    assert context.graphql_document is not None, "an operation to run has parsed"
    cost = cost_of(schema, context.graphql_document, context.operation_name)
    return None if cost is None else cost.charge(schema, context.variables, hide_suggestions=production)


def _operation_to_run(context: ExecutionContext) -> OperationType | None:
    """The type of the prepared operation if strawberry will execute it (it parsed, validated,
    names an operation of the document, of a type this request may run), else None."""
    if context.graphql_document is None or context.pre_execution_errors:
        return None
    try:
        operation = context.operation_type
    except RuntimeError:  # no such operation in the document: strawberry reports it
        return None
    return operation if operation in context.allowed_operations else None
