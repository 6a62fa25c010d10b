"""The schema of the speed layer: the app's schema (schema/build.py) with the completion plans, the
cached documents, cached names and the chat screen's read ahead."""

from strawberry.schema.name_converter import NameConverter

from fastpath.execution import FastExecutionContext
from fastpath.pipeline import FastOperationPipeline
from fastpath.readahead import ReadAheadQuery
from schema.build import InboxSchema, build_schema
from schema.limits import Limits


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


def build_fast_schema(limits: Limits = Limits(), production: bool = False) -> InboxSchema:
    return build_schema(
        limits,
        production,
        query=ReadAheadQuery,
        execution_context_class=FastExecutionContext,
        name_converter=CachedNameConverter,
        pipeline=FastOperationPipeline,
    )  # cached there
