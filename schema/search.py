"""Message search: `Query.searchMessages` and its connection, whose edges carry a snippet."""

from typing import Annotated

import strawberry
from strawberry.types import Info

from core.text import SEARCH
from resolvers import search as search_resolvers
from resolvers.ids import encode_id
from schema.inputs import Cursor, OptionalNodeId, text_argument
from schema.messages import Message
from schema.relay import PageInfo


@strawberry.type
class MessageSearchEdge:
    cursor: str
    node: Message
    snippet: str = strawberry.field(
        description=(
            "Plain text of at most 160 characters around the first match, taken from the message's text or caption."
        )
    )


@strawberry.type
class MessageSearchConnection:
    edges: list[MessageSearchEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Message]:
        return [edge.node for edge in self.edges]


@strawberry.type
class SearchQuery:
    @strawberry.field(
        description=(
            "Messages of the viewer's conversations, or of one, whose text or image caption contains the query\n"
            "(case-insensitive, any language, at least 3 characters), newest first. first is at most 50."
        )
    )
    async def search_messages(
        self,
        info: Info,
        query: Annotated[str, text_argument(SEARCH)],
        conversation_id: OptionalNodeId = None,
        first: int | None = 20,
        after: Cursor = None,
    ) -> MessageSearchConnection:
        page = await search_resolvers.search_messages(info.context, query, conversation_id, first, after)
        viewer = info.context.viewer
        edges = [
            MessageSearchEdge(
                cursor=encode_id("Message", found.message.id),
                node=Message.from_row(found.message, viewer, found.read_by_other_side),
                snippet=found.snippet,
            )
            for found in page.results
        ]
        return MessageSearchConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )
