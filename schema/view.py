"""The aiohttp GraphQL view: bearer authentication, JSON errors, orjson responses."""

import orjson
from aiohttp import web
from strawberry.aiohttp.views import GraphQLView
from cross_web import HTTPException

from resolvers.context import Context
from services.runtime import Runtime
from schema.errors import _is_unavailable
from services.auth import authenticate
from services.errors import InboxError, ServiceUnavailable, ShopInactive, Unauthenticated

VIEWER_KEY = web.RequestKey("viewer", object)


def error_response(error: InboxError, status: int) -> web.Response:
    """A GraphQL-shaped JSON body with one error carrying its code."""
    body = {"data": None, "errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


class InboxView(GraphQLView):
    def __init__(self, schema, app_state: Runtime, **kwargs):
        super().__init__(schema, **kwargs)
        self.app_state = app_state

    def _is_ide_page(self, request: web.Request) -> bool:
        return (request.method == "GET" and "query" not in request.query
                and "text/html" in request.headers.get("Accept", ""))

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if not self.is_websocket_request(request) and not self._is_ide_page(request):
            try:
                viewer = await authenticate(self.app_state.engine, self.app_state.secret,
                                            request.headers.get("Authorization"))
            except Unauthenticated as error:
                return error_response(error, 401)
            except Exception as error:
                if not _is_unavailable(error):
                    raise
                return error_response(ServiceUnavailable("The database is unavailable; retry shortly."), 503)
            if viewer.is_seller and viewer.shop_status != "ACTIVE":
                return error_response(ShopInactive(
                    f"The shop is {viewer.shop_status.lower()}; its sellers have lost access to creator messages."),
                    200)
            request[VIEWER_KEY] = viewer
        try:
            return await self.run(request=request)
        except HTTPException as error:
            return error_response(InboxError(error.reason, code="BAD_REQUEST"), error.status_code)

    async def get_context(self, request: web.Request, response) -> Context:
        return Context(self.app_state, request[VIEWER_KEY], request=request, response=response)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)
