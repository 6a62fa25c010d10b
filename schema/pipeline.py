"""The one schema extension every operation runs through.

It gives the operation its cached document and validation (schema/documents.py), applies the
operation limits (schema/limits.py) and records the operation (schema/observability.py). One
extension with one hook rather than one per concern: strawberry wraps every hook of every
extension in a context manager for every operation.
"""

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from schema.documents import prepare_document
from schema.limits import Limits, admit, operation_cost
from schema.observability import Observation


def pipeline_extension(limits: Limits, rules: tuple) -> type[SchemaExtension]:
    """The extension class of a schema with these limits and prebuilt validation rules."""

    class OperationPipeline(SchemaExtension):
        async def on_operation(self):
            context = self.execution_context
            observation = Observation()
            context.validation_rules = rules
            context.parse_options["max_tokens"] = limits.max_tokens
            prepare_document(context)
            operation = _operation_to_run(context)
            if operation is not None:
                await admit(context, operation)
            yield
            observation.finish(context)

        def get_results(self) -> dict:
            document = self.execution_context.graphql_document
            if document is None:
                return {}
            return {"cost": operation_cost(self.execution_context.schema._schema, document)}

    return OperationPipeline


def _operation_to_run(context) -> OperationType | None:
    """The type of the prepared operation if strawberry will execute it (it parsed, validated,
    names an operation of the document, of a type this request may run), else None."""
    if context.graphql_document is None or context.pre_execution_errors:
        return None
    try:
        operation = context.operation_type
    except RuntimeError:  # no such operation in the document: strawberry reports it
        return None
    return operation if operation in context.allowed_operations else None
