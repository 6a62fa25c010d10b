"""Node, PageInfo and the generic keyset connection (ConversationConnection, ...)."""

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import strawberry

T = TypeVar("T")
R = TypeVar("R")
N = TypeVar("N", bound="Node")


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def build_connection(
    rows: Iterable[R],
    to_node: Callable[[R], T],
    cursor_of: Callable[[R], str],
    has_next: bool,
    has_previous: bool = False,
) -> Connection[T]:
    """A connection over `rows`, each turned into a node and given its cursor."""
    return _connection([Edge(cursor=cursor_of(row), node=to_node(row)) for row in rows], has_next, has_previous)


def node_id_connection(nodes: Iterable[N], has_next: bool, has_previous: bool = False) -> Connection[N]:
    """A connection over `nodes` of a list ordered by key, whose cursors are the nodes' global IDs."""
    return _connection([Edge(cursor=node.id, node=node) for node in nodes], has_next, has_previous)


def _connection(edges: list[Edge[T]], has_next: bool, has_previous: bool) -> Connection[T]:
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def empty_connection() -> Connection[Any]:
    return _connection([], False, False)
