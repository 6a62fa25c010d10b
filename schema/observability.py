"""One JSON log line and the metrics of every GraphQL operation."""

import logging
import time

import orjson
from graphql import get_operation_ast
from strawberry.types import ExecutionContext

from core.metrics import ANONYMOUS, OTHER, start_counting
from schema.errors import classify

log = logging.getLogger("inbox.requests")
NAME_LENGTH = 64  # of an operation's name in the log and the metrics: clients choose names


class Observation:
    """Times an operation and counts its SQL statements; `finish` records and logs it (never
    message text or tokens)."""

    __slots__ = ("_counter", "_started")

    def __init__(self) -> None:
        self._counter = start_counting()
        self._started = time.perf_counter()

    def finish(self, execution: ExecutionContext) -> None:
        elapsed = time.perf_counter() - self._started
        context = execution.context
        try:
            kind = execution.operation_type.value
        except Exception:  # noqa: BLE001 - an unparsable document has no operation type
            kind = "invalid"
        errors = execution.result.errors if execution.result else execution.pre_execution_errors
        for error in errors or ():
            classify(error)  # idempotent: the schema classifies again before answering
        outcome = (errors[0].extensions or {}).get("code", "error") if errors else "ok"
        name = (execution.operation_name or ANONYMOUS)[:NAME_LENGTH]
        statements = self._counter[0]
        context.app.metrics.observe_operation(
            name if _names_an_operation(execution) else OTHER, kind, outcome, elapsed, statements
        )
        log.info(
            orjson.dumps(
                {
                    "event": "operation",
                    "request_id": context.request_id,
                    "principal": context.principal,
                    "operation": name,
                    "type": kind,
                    "outcome": outcome,
                    "duration_ms": round(elapsed * 1000, 2),
                    "sql_statements": statements,
                }
            ).decode()
        )


def _names_an_operation(execution: ExecutionContext) -> bool:
    """The document parsed and validated, and its operation is the one the name (if any) names: a
    document that failed can carry any name, so its name labels no metric."""
    document = execution.graphql_document
    return (
        document is not None
        and not execution.pre_execution_errors
        and get_operation_ast(document, execution.operation_name) is not None
    )
