"""The operation pipeline in one hook, on cached documents.

The same steps as schema/pipeline.py's `OperationPipeline`, all before the operation in
`on_operation`: strawberry wraps every hook of every extension in a context manager for every
operation, and the document is already parsed and validated here (fastpath/documents.py), so
strawberry's own parsing and validation find nothing left to do. The cost formula of a document is
kept for its later requests.
"""

from collections.abc import AsyncIterator

from graphql import DocumentNode, GraphQLSchema
from strawberry.types import ExecutionContext

from fastpath.documents import prepare_document
from fastpath.identity_cache import IdentityCache
from schema.limits import OperationCost, operation_cost
from schema.persisted import refuse_untrusted
from schema.pipeline import Pipeline

_COSTS: IdentityCache[dict] = IdentityCache(1024)


def cached_operation_cost(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> OperationCost | None:
    """`operation_cost`, worked out once per parsed document and operation."""
    costs = _COSTS.get((schema, document), dict)
    cost = costs.get(operation_name)
    if cost is None:
        cost = operation_cost(schema, document, operation_name)
        if cost is not None:  # only the document's own operations: their number is bounded
            costs[operation_name] = cost
    return cost


class FastOperationPipeline(Pipeline):
    async def on_operation(self) -> AsyncIterator[None]:
        context: ExecutionContext = self.execution_context
        observation = self.start()
        prepare_document(context, hide_suggestions=self.production)
        refuse_untrusted(context.context.app.persisted, context)
        await self.admit(cached_operation_cost)
        yield
        observation.finish(context)
