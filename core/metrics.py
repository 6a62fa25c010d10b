"""Prometheus metrics of one process, and SQL statement counting per operation."""

from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric

from subscriptions.broker import Broker

# The `operation` label: a valid operation's name, for the first MAX_OPERATION_NAMES distinct names a
# process counts; every other operation (later names, documents that failed) counts as OTHER.
MAX_OPERATION_NAMES = 100
ANONYMOUS, OTHER = "anonymous", "other"

# A one-item list per operation: tasks started by the operation (DataLoader batches) copy the
# context, so they share the list and their statements count too.
_statements: ContextVar[list[int] | None] = ContextVar("inbox_sql_statements", default=None)


class WatchedEngine(Protocol):
    """An engine that reports the SQL it runs (models.database.GatedEngine)."""

    def watch_statements(self, watcher: Callable[[str, Sequence[object]], None]) -> Callable[[], None]: ...


def count_statements(engine: WatchedEngine) -> None:
    """Count every statement the engine runs into the current operation's counter."""

    def count(_statement: str, _parameters: Sequence[object]) -> None:
        counter = _statements.get()
        if counter is not None:
            counter[0] += 1

    engine.watch_statements(count)


def start_counting() -> list[int]:
    counter = [0]
    _statements.set(counter)
    return counter


class _BrokerCollector:
    """Reads the broker's own counters when Prometheus scrapes."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def collect(self) -> Iterator[Metric]:
        failures = CounterMetricFamily("inbox_broker_publish_failures", "Events the broker failed to publish.")
        failures.add_metric([], self.broker.publish_failures)
        yield failures


class Metrics:
    def __init__(self, broker: Broker) -> None:
        self.registry = CollectorRegistry()
        self.operations = Counter(
            "inbox_operations",
            "GraphQL operations by name, type and outcome.",
            ["operation", "type", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "inbox_operation_seconds",
            "GraphQL operation latency.",
            ["type"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.statements = Histogram(
            "inbox_sql_statements_per_operation",
            "SQL statements an operation ran.",
            ["type"],
            buckets=(0, 1, 2, 3, 4, 6, 8, 12, 20, 50),
            registry=self.registry,
        )
        self.http_refusals = Counter(
            "inbox_http_refusals", "Requests refused before GraphQL, by code.", ["code"], registry=self.registry
        )
        self.websockets = Gauge("inbox_websocket_connections", "Open WebSocket connections.", registry=self.registry)
        subscriptions = Gauge("inbox_subscriptions", "Live subscriptions of this process.", registry=self.registry)
        subscriptions.set_function(broker.subscribers_count)
        self.registry.register(_BrokerCollector(broker))
        self._operation_children: dict[tuple, tuple] = {}
        self._operation_names: set[str] = {ANONYMOUS, OTHER}

    def observe_operation(self, name: str, kind: str, outcome: str, seconds: float, statements: int) -> None:
        """Count, time and size one GraphQL operation. The labelled children are looked up once per
        label combination (prometheus_client's `labels` validates and locks on every call)."""
        key = (self._operation_label(name), kind, outcome)
        children = self._operation_children.get(key)
        if children is None:
            children = self._operation_children[key] = (
                self.operations.labels(*key),
                self.latency.labels(kind),
                self.statements.labels(kind),
            )
        operations, latency, statements_per_operation = children
        operations.inc()
        latency.observe(seconds)
        statements_per_operation.observe(statements)

    def _operation_label(self, name: str) -> str:
        """`name`, if it is among the first MAX_OPERATION_NAMES distinct names, else OTHER: clients
        choose operation names, and each label value is a series Prometheus keeps (and a cached child
        here), so the label's values are bounded."""
        if name in self._operation_names:
            return name
        if len(self._operation_names) < MAX_OPERATION_NAMES + 2:  # + ANONYMOUS and OTHER
            self._operation_names.add(name)
            return name
        return OTHER
