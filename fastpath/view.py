"""The JSON POST lane: the view answers one operation POSTed as JSON, the request nearly every
client sends, without what only other requests need (GET queries, the IDE, multipart uploads,
batches, streamed responses, content-type parsing) in strawberry's `run`."""

from typing import TypeGuard

import orjson
from aiohttp import web
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from schema.http_transport import prefers_stream
from schema.persisted import names_persisted_query
from schema.persisted import resolve as resolve_persisted
from schema.view import POST_OPERATIONS, InboxView


class FastView(InboxView):
    def is_websocket_request(self, request: web.Request) -> TypeGuard[web.Request]:
        # Most requests are plain POSTs: skip building a WebSocketResponse to find that out.
        return (
            request.method == "GET"
            and "upgrade" in request.headers.get("Connection", "").lower()
            and super().is_websocket_request(request)
        )

    async def respond(self, request: web.Request) -> web.StreamResponse:
        return await self._post_one_operation(request) or await super().respond(request)

    async def _post_one_operation(self, request: web.Request) -> web.Response | None:
        """The answer to one operation POSTed as JSON; None for any other request, or one strawberry
        would refuse: `run` answers those, with its errors."""
        if (
            request.method != "POST"
            or request.content_type != "application/json"
            or prefers_stream(request.headers.get("Accept", ""))
        ):
            return None
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return None
        if type(data) is not dict:
            return None
        query, variables = data.get("query"), data.get("variables")
        name, extensions = data.get("operationName"), data.get("extensions")
        if names_persisted_query(extensions):
            query, extensions = await resolve_persisted(self.runtime.persisted, query, extensions)
        if not (
            type(query) is str
            and isinstance(variables, dict | None)
            and isinstance(name, str | None)
            and isinstance(extensions, dict | None)
        ):
            return None
        response = await self.get_sub_response(request)
        context = await self.get_context(request, response)
        try:
            result = await self.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=name,
                allowed_operation_types=POST_OPERATIONS,
                operation_extensions=extensions,
            )
        except (CannotGetOperationTypeError, InvalidOperationTypeError, MissingQueryError):
            return None  # refused before anything ran: `run` refuses it again, as a 400
        return self.create_response(await self.process_result(request, result), response)
