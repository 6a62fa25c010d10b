"""The operation pipeline in one hook, on cached documents.

The same steps as schema/pipeline.py's `OperationPipeline`, all before the operation in
`on_operation`: strawberry wraps every hook of every extension in a context manager for every
operation, and the document is already parsed and validated here (fastpath/documents.py), so
strawberry's own parsing and validation find nothing left to do.
"""

from strawberry.types import ExecutionContext

from fastpath.documents import prepare_document
from schema.persisted import refuse_untrusted
from schema.pipeline import Pipeline


class FastOperationPipeline(Pipeline):
    async def on_operation(self):
        context: ExecutionContext = self.execution_context
        observation = self.start()
        prepare_document(context, hide_suggestions=self.production)
        refuse_untrusted(context.context.app.persisted, context)
        await self.admit()
        yield
        observation.finish(context)
