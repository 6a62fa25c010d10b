"""One JSON log line and the metrics of every GraphQL operation."""

import logging
import time

import orjson

from schema.errors import classify
from services.metrics import start_counting

log = logging.getLogger("inbox.requests")


class Observation:
    """Times an operation and counts its SQL statements; `finish` records and logs it (never
    message text or tokens)."""

    __slots__ = ("_counter", "_started")

    def __init__(self):
        self._counter = start_counting()
        self._started = time.perf_counter()

    def finish(self, execution) -> None:
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
        name = execution.operation_name or "anonymous"
        statements = self._counter[0]
        context.app.metrics.observe_operation(name, kind, outcome, elapsed, statements)
        log.info(orjson.dumps({
            "event": "operation", "request_id": context.request_id, "principal": context.principal,
            "operation": name, "type": kind, "outcome": outcome, "duration_ms": round(elapsed * 1000, 2),
            "sql_statements": statements}).decode())
