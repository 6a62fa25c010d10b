"""The one schema extension every operation runs through.

It gives the operation its cached document and validation (schema/documents.py), runs only trusted
documents when there is a manifest and registers persisted queries (schema/persisted.py), applies the
operation limits (schema/limits.py) and records the operation (schema/observability.py). One
extension with one hook rather than one per concern: strawberry wraps every hook of every
extension in a context manager for every operation.
"""

from collections.abc import AsyncIterator
from typing import Any

from graphql import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from schema.documents import prepare_document
from schema.limits import Limits, admit, operation_cost, refuse_if_too_costly
from schema.observability import Observation
from schema.persisted import refuse_untrusted, register


def pipeline_extension(limits: Limits, rules: tuple[type[ASTValidationRule], ...],
                       production: bool) -> type[SchemaExtension]:
    """The extension class of a schema with these limits and prebuilt validation rules."""

    class OperationPipeline(SchemaExtension):
        cost: int | None = None

        async def on_operation(self) -> AsyncIterator[None]:
            context = self.execution_context
            observation = Observation()
            context.validation_rules = rules
            context.parse_options["max_tokens"] = limits.max_tokens
            prepare_document(context, hide_suggestions=production)
            persisted = context.context.app.persisted
            refuse_untrusted(persisted, context)
            operation = _operation_to_run(context)
            if operation is not None:
                self.cost = _cost(context, production)
                if self.cost is not None:
                    refuse_if_too_costly(self.cost, limits.max_cost)
                await admit(context, operation)
                await register(persisted, context)
            yield
            observation.finish(context)

        def get_results(self) -> dict[str, Any]:
            return {} if self.cost is None else {"cost": self.cost}

    return OperationPipeline


def _cost(context: ExecutionContext, production: bool) -> int | None:
    """The operation's cost with the page sizes of this request; None if its variables do not
    coerce (execution refuses it then, before anything runs)."""
    schema = context.schema._schema
    assert context.graphql_document is not None, "an operation to run has parsed"
    cost = operation_cost(schema, context.graphql_document, context.operation_name)
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
