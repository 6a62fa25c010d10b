"""The speed layer: the same answers as the plain app, in less CPU per request.

The plain app is strawberry (its execution context, parser, validation and view) over SQLAlchemy
Core (`conn.execute` of each statement). This layer plugs in at `seams` when INBOX_FAST_PATH is on
(the default) and the installed libraries are those it was checked against (`PINNED`); otherwise
the app runs plain, after one warning line naming what differs. tests/test_fast_execution.py checks
that both answer byte for byte alike, and CI runs the API tests both ways.

- execution.py: completion plans, generated once per document and field group, that build the
  result of objects whose fields are all plain attributes without graphql-core's per-field work.
- documents.py, pipeline.py: parsed and validated documents cached by text and identity; the
  operation pipeline's steps in one hook.
- sqljson.py, compiled.py: the chat screen's and the inbox list's plain selections compiled into one
  statement that writes the answer's JSON text in PostgreSQL (concatenated over the reference
  statements), passed to the response as it is (an `orjson.Fragment`); anything they do not cover
  resolves as below.
- readahead.py: the chat screen's conversation and messages page in one statement (PostgreSQL), where
  the selection is not compiled.
- view.py: the JSON POST lane, one operation without the rest of strawberry's `run`.
- reads.py: statements built once run by asyncpg itself, on an idle pooled connection taken
  without a greenlet.
- schema.py: the schema with all of the above.

Private internals it relies on, each pinned with its library (`PINNED`):
- graphql-core 3.3's `ExecutionContext.complete_object_value(return_type, field_details_list, info,
  path, result, position_context)`, overridden to complete an object by its plan, and
  `collect_subfields`, whose (fields by response key, new defer usages, ...) tuple and FieldDetails
  (`node`, `defer_usage`, `fragment_variable_values`) a plan is built from (execution.py).
- strawberry's `StrawberryGraphQLCoreExecutionContext` (not exported), which the plans' execution
  context extends to keep strawberry's resolve info (execution.py).
- strawberry's `GraphQLCoreConverter.DEFINITION_BACKREF`, the key under which a graphql-core type or
  field keeps its strawberry definition: a field's Python name and `is_basic_field`, an enum's
  members, an object type's class (execution.py).
- strawberry's `schema.types.base_scalars.isoformat`, the DateTime serializer, recognised so that a
  plan writes `value.isoformat()` inline (execution.py).
- strawberry's `Schema._schema`, the graphql-core schema that validation, the cost and the SQL
  compiler read (the plain pipeline reads it too: strawberry has no public accessor; its own printer
  reads `_schema`).
- graphql-core's `complete_object_value` receiving a resolver's value as is: a root field answered by
  its statement returns a `Completed`, which the plans' execution context returns unchanged, and
  graphql-core keeping that value (an `orjson.Fragment`, not a dict) in the result as it is
  (execution.py, compiled.py).
- strawberry's `MaybeNullValidationRule` and `OneOfInputValidationRule`, the rules its validation adds
  to the ones it is given, so that a cached validation finds what strawberry's would (documents.py,
  through schema/pipeline.py, which production's plain validation shares).
- SQLAlchemy's `SQLCompiler.positiontup` and `.binds` (documented attributes, not a documented way to
  run a statement): a compiled statement's `$n` order and the bind types to process values with
  (reads.py).
- SQLAlchemy's pool refusing, before any I/O, to reconnect outside a greenlet (MissingGreenlet from
  `Engine.raw_connection()`), which lets an idle connection be taken without one (reads.py).
Replaced by public API: strawberry's `info._raw_info` (the read ahead walks `info.operation` from
`info.path`), its resolvers' `_is_default` mark (`StrawberryField.is_basic_field`), the enum type's
`wrapped_cls` (the enum definition's), the view's `_get_stream_transport_from_headers` (the lane asks
`prefers_stream`; the transports' `accepts` rank Accept), the hand-fired
`dispatch.before_cursor_execute` (`GatedEngine.watch_statements`), `sqlalchemy.util.greenlet_spawn`
(an invalidated connection is terminated without one), and the undeclared `cross_web` (a declared
dependency). Dropped: `logging._srcfile = None`.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

from sqlalchemy.ext.asyncio import AsyncEngine

from models.database import GatedEngine
from schema.build import InboxSchema, build_schema
from schema.view import InboxView

# The versions this layer was checked against (pyproject.toml pins the same).
PINNED = {"strawberry-graphql": "0.341.2", "graphql-core": "3.3.2", "SQLAlchemy": "2.1.9", "asyncpg": "0.32.0"}
log = logging.getLogger("inbox.fastpath")


@dataclass(frozen=True)
class Seams:
    """Where the app takes the parts the speed layer replaces."""

    fast: bool
    build_schema: Callable[..., InboxSchema]  # (Limits, production) -> the schema, the read ahead included
    view: type[InboxView]
    gated_engine: Callable[[AsyncEngine], GatedEngine]  # the engine with its read function (`fetch`)


PLAIN = Seams(fast=False, build_schema=build_schema, view=InboxView, gated_engine=GatedEngine)


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def seams(fast_path: bool) -> Seams:
    """The speed layer's seams when it is on and the pinned versions are installed, else the plain app's."""
    if not fast_path:
        return PLAIN
    installed = {package: installed_version(package) for package in PINNED}
    differing = [
        f"{package} {installed[package]} (checked against {pinned})"
        for package, pinned in PINNED.items()
        if installed[package] != pinned
    ]
    if differing:
        log.warning("fast path off: installed %s; the app runs plain strawberry and SQLAlchemy", ", ".join(differing))
        return PLAIN
    # Imported only now: these modules use the pinned versions' internals.
    from fastpath.reads import gated_engine
    from fastpath.schema import build_fast_schema
    from fastpath.view import FastView

    return Seams(fast=True, build_schema=build_fast_schema, view=FastView, gated_engine=gated_engine)
