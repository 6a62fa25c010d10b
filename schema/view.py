"""The aiohttp GraphQL view: bearer authentication over HTTP and WebSocket, JSON errors, and
the transports: a JSON request runs a query or mutation; WebSockets (schema/websocket.py) and
event streams over HTTP (SSE and multipart, schema/http_streams.py) run everything. strawberry's
`run` answers every request (`respond`; the speed layer's view answers most POSTs itself)."""

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping
from functools import cached_property
from typing import Any

import orjson
from aiohttp import WSCloseCode, web
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, parse
from graphql import OperationType as DocumentOperation
from strawberry.aiohttp.views import GraphQLView
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
)
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType

from core.errors import (
    ErrorCode,
    InboxError,
    ServiceUnavailable,
    ShopInactive,
    Unauthenticated,
)
from core.viewer import Viewer
from models.availability import is_unavailable
from models.replica import READ_AFTER_HEADER, WAL_POSITION_HEADER, parse_position
from resolvers.context import Context
from schema.graphiql import page_html
from schema.http_streams import (
    HTTP_STREAM_PROTOCOLS,
    TRANSPORTS,
    end_streams,
    until_expiry,
    write_stream,
)
from schema.http_transport import fill, media_type, refusal
from schema.images import discard_uploads, read_upload_request
from schema.persisted import NO_CACHE, PersistedQueryError, names_persisted_query
from schema.persisted import resolve as resolve_persisted
from schema.websocket import LegacyWSHandler, TransportWSHandler
from services.auth import require_active_shop
from services.runtime import Runtime

POST_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})
# What a JSON request may run: it answers one result, so a subscription needs a stream.
HTTP_OPERATIONS = {"GET": frozenset({OperationType.QUERY}), "POST": POST_OPERATIONS}
INTROSPECTION_ROOT_FIELDS = frozenset({"__schema", "__type"})
SUBSCRIPTION_OVER_HTTP = (
    "subscriptions need a WebSocket or an event stream "
    '(Accept: text/event-stream, or multipart/mixed;subscriptionSpec="1.0")'
)
PROTOCOLS = (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL, *HTTP_STREAM_PROTOCOLS)
VIEWER_KEY = web.RequestKey("viewer", Viewer)
REQUEST_ID_KEY = web.RequestKey("request_id", str)
MEDIA_TYPE_KEY = web.ResponseKey("media_type", str)
TOO_MANY_SOCKETS_CLOSE_CODE = 4429
SERVER_FULL_RETRY_AFTER_SECONDS = 5
UNAVAILABLE = ServiceUnavailable("The database is unavailable; retry shortly.")
log = logging.getLogger("inbox.http")


def error_response(request: web.Request, error: InboxError, status: int) -> web.Response:
    """One error carrying its code, in the media type the request accepts (schema/http_transport.py)."""
    response = refusal(error.message, error.code, status, media_type(request.headers.get("Accept")))
    response.headers["X-Request-Id"] = request[REQUEST_ID_KEY]
    return response


class InboxView(GraphQLView[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    stream_transport_classes_by_protocol = TRANSPORTS

    def __init__(self, schema: BaseSchema, runtime: Runtime, **kwargs: Any) -> None:
        # Multipart requests run uploadImage only (schema/images.py checks that before reading the file).
        super().__init__(schema, subscription_protocols=PROTOCOLS, multipart_uploads_enabled=True, **kwargs)
        self.runtime = runtime
        self.streams: set[asyncio.Task[Any]] = set()  # the handlers writing SSE or multipart streams

    async def _authenticate(self, header: str | None) -> Viewer:
        """The viewer of an Authorization header; refuses the sellers of an inactive shop."""
        return require_active_shop(await self.runtime.auth.authenticate(header))

    def _is_ide_page(self, request: web.Request) -> bool:
        return (
            request.method == "GET"
            and "query" not in request.query
            and "extensions" not in request.query
            and "text/html" in request.headers.get("Accept", "")
        )

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A GET naming a persisted query by hash has no `query`, and strawberry shows the IDE then.
        return "extensions" not in request.query_params and super().should_render_graphql_ide(request)

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        request[REQUEST_ID_KEY] = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
        if self.is_websocket_request(request):
            return await self._websocket(request)
        try:
            if not self._is_ide_page(request):
                await self._authenticate_request(request)
            return await self.respond(request)
        except (Unauthenticated, ShopInactive) as error:
            return self._refuse(request, error, 401 if isinstance(error, Unauthenticated) else 200)
        except PersistedQueryError as error:
            response = self._refuse(request, error, error.status)
            response.headers.update(NO_CACHE)
            return response
        except HTTPException as error:
            return error_response(request, InboxError(error.reason, code=ErrorCode.BAD_REQUEST), error.status_code)
        except web.HTTPException as error:  # e.g. 413 from aiohttp's body size limit
            return error_response(request, InboxError(error.reason, code=ErrorCode.BAD_REQUEST), error.status)
        except UnicodeDecodeError:
            not_utf8 = InboxError("The request body is not UTF-8.", code=ErrorCode.BAD_REQUEST)
            return error_response(request, not_utf8, 400)
        except ConnectionResetError:
            raise  # the client left mid-request: nothing to answer, and no bug of ours (aiohttp ignores it)
        except Exception as error:
            if is_unavailable(error):  # before any GraphQL result exists (authentication, mostly)
                return self._refuse(request, UNAVAILABLE, 503)
            error_id = uuid.uuid4().hex[:12]  # a bug of ours: logged with an id, never a traceback to the client
            log.exception("unhandled error %s", error_id)
            return error_response(request, InboxError(f"Internal server error (error id {error_id})."), 500)
        finally:
            discard_uploads(request)

    async def _authenticate_request(self, request: web.Request) -> None:
        """Give the request its viewer; without one, only anonymous introspection may go on."""
        try:
            request[VIEWER_KEY] = await self._authenticate(request.headers.get("Authorization"))
        except Unauthenticated:
            if not await self._may_introspect_anonymously(request):
                raise

    async def _may_introspect_anonymously(self, request: web.Request) -> bool:
        """In development a document that only reads `__schema` / `__type` runs without a token, so
        GraphiQL shows its docs and autocompletion before one is entered (the schema is public there;
        production refuses introspection altogether)."""
        settings = self.runtime.settings
        if settings.production:
            return False
        query = await _query_text(request)
        return query is not None and _is_introspection_only(query, settings.max_tokens)

    @cached_property
    def graphql_ide_html(self) -> str:
        return page_html()  # GraphiQL from this server (schema/graphiql), not strawberry's CDN page

    async def respond(self, request: web.Request) -> web.StreamResponse:
        """The answer to an authenticated request (or to the anonymous introspection it may run)."""
        return await self.run(request=request)

    async def execute_single(
        self,
        request: web.Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: web.Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """strawberry's, except that plain HTTP runs no subscription (strawberry would run it as a
        query, which fails): the one place that refuses them, with 400."""
        method = request_adapter.method
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=HTTP_OPERATIONS[method],
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as error:
            reason = (
                SUBSCRIPTION_OVER_HTTP
                if error.operation_type is OperationType.SUBSCRIPTION
                else error.as_http_error_reason(method)
            )
            raise HTTPException(400, reason) from None
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from None
        except MissingQueryError:
            raise HTTPException(400, "No GraphQL query found in the request") from None

    async def _create_streaming_response(
        self, request: web.Request, result: SubscriptionExecutionResult, protocol: Any, sub_response: web.Response
    ) -> web.StreamResponse:
        """strawberry's SSE or multipart stream of an operation, ending when the request's token does."""
        if request.get(VIEWER_KEY) is not None:
            expires_at = self.runtime.auth.expiry(request.headers.get("Authorization"))
            # The stream is an async generator; strawberry's SubscriptionExecutionResult protocol names no aclose,
            # and an async generator function's own __anext__ is no coroutine function to it.
            result = until_expiry(result, expires_at)  # type: ignore[arg-type, assignment]
        return await super()._create_streaming_response(request, result, protocol, sub_response)

    async def create_streaming_response(
        self,
        request: web.Request,
        stream: Callable[[], AsyncGenerator[str, None]],
        sub_response: web.Response,
        headers: Mapping[str, str],
    ) -> web.StreamResponse:
        return await write_stream(
            request, stream, sub_response.status, {**sub_response.headers, **headers}, self.streams
        )

    async def end_streams(self, _app: web.Application) -> None:
        """On shutdown (an `on_shutdown` hook): end the SSE and multipart streams."""
        end_streams(self.streams)

    def _refuse(self, request: web.Request, error: InboxError, status: int) -> web.Response:
        self.runtime.metrics.http_refusals.labels(error.code).inc()
        log.info(json.dumps({"event": "refused", "request_id": request[REQUEST_ID_KEY], "outcome": error.code}))
        return error_response(request, error, status)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        sockets, gauge = self.runtime.sockets, self.runtime.metrics.websockets
        if not sockets.open():
            response = self._refuse(
                request, ServiceUnavailable("This server holds as many WebSockets as it may; retry shortly."), 503
            )
            response.headers["Retry-After"] = str(SERVER_FULL_RETRY_AFTER_SECONDS)
            return response
        gauge.inc()
        try:
            return await self.run(request=request)
        finally:
            gauge.dec()
            sockets.closed()

    async def create_websocket_response(self, request: web.Request, subprotocol: str | None) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            protocols=[subprotocol] if subprotocol else [], max_msg_size=self.runtime.settings.ws_max_message_bytes
        )
        ws.headers["X-Request-Id"] = request[REQUEST_ID_KEY]
        await ws.prepare(request)
        self.runtime.websockets.add(ws)  # closed with a reconnect hint on shutdown
        return ws

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> dict[str, Any]:
        """strawberry's reads every file into memory: this streams the one file of an uploadImage to disk."""
        aiohttp_request: web.Request = request.request  # type: ignore[attr-defined]  # the aiohttp adapter's
        return await read_upload_request(aiohttp_request, self.runtime.settings.max_body_bytes)

    async def parse_http_body(
        self, request_adapter: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        try:
            data = await super().parse_http_body(request_adapter)
        except (AttributeError, TypeError):  # strawberry assumes a JSON object; `0` or `[1]` is not one
            raise HTTPException(400, "The request body must be a JSON object with a query.") from None
        if isinstance(data, GraphQLRequestData) and names_persisted_query(data.extensions):
            data.query, data.extensions = await resolve_persisted(self.runtime.persisted, data.query, data.extensions)
        return data

    async def get_context(self, request: web.Request, response: web.Response | web.WebSocketResponse) -> Context:
        return Context(
            self.runtime,
            request.get(VIEWER_KEY),
            request=request,
            response=response,
            request_id=request[REQUEST_ID_KEY],
            read_after=_read_after(request),
        )

    async def authenticate_ws(self, context: Context, params: object) -> None:
        """Authenticate a WebSocket from its connection_init payload and give it its place among its
        principal's sockets, or reject it: 4403 when the token is refused, 4429 over the cap."""
        if context.authenticated is not None:
            return
        header = (params or {}).get("Authorization") if isinstance(params, dict) else None
        try:
            viewer = await self._authenticate(header)
        except (Unauthenticated, ShopInactive) as error:
            raise ConnectionRejectionError({"message": error.message, "code": error.code}) from None
        except Exception as error:
            if not is_unavailable(error):
                raise
            # Closed first: the rejection's own close (4403, "Forbidden") then finds it closed.
            await context.response.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"database unavailable; retry")
            raise ConnectionRejectionError({"message": UNAVAILABLE.message, "code": UNAVAILABLE.code}) from None
        cap = self.runtime.settings.ws_max_sockets_per_principal
        socket = await self.runtime.sockets.admit_socket(viewer.principal, self.runtime.auth.expiry(header))
        if socket is None:
            # Closed here with our code; the handler's own close (4403) then finds the socket closed.
            await context.response.close(code=TOO_MANY_SOCKETS_CLOSE_CODE, message=f"at most {cap} sockets".encode())
            raise ConnectionRejectionError(
                {"message": f"At most {cap} sockets at once.", "code": ErrorCode.RATE_LIMITED}
            )
        context.authenticated, context.socket = viewer, socket
        context.refresh_loaders()

    async def on_ws_connect(self, context: Context) -> None:
        await self.authenticate_ws(context, context.connection_params)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # its JSONDecodeError is json's: strawberry still answers 400

    def encode_json(self, data: object) -> str:
        # A str, not bytes: WebSocket clients expect text frames.
        return orjson.dumps(data).decode()

    async def get_sub_response(self, request: web.Request) -> web.Response:
        """The response every result (and stream: it copies these headers) is answered with. Its
        `X-Request-Id` is the id the request's log lines carry, as are error_response's and the
        WebSocket handshake's (set here rather than by an on_response_prepare signal, which would
        cost the hot path about 2 µs per request)."""
        response = web.Response(headers={"X-Request-Id": request[REQUEST_ID_KEY]})
        response[MEDIA_TYPE_KEY] = media_type(request.headers.get("Accept"))
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: web.Response
    ) -> web.Response:
        return fill(sub_response, response_data, sub_response[MEDIA_TYPE_KEY])


async def _query_text(request: web.Request) -> str | None:
    """The query of a GET, or of a JSON POST; None for anything else (or a body over the limit)."""
    if request.method == "GET":
        return request.query.get("query")
    if request.content_type != "application/json":
        return None
    try:
        data = orjson.loads(await request.read())  # aiohttp keeps the body for the view to read again
    except (orjson.JSONDecodeError, web.HTTPException):
        return None
    query = data.get("query") if type(data) is dict else None
    return query if type(query) is str else None


def _is_introspection_only(query: str, max_tokens: int) -> bool:
    """Whether every operation of the document is a query selecting only `__schema` and `__type` at
    its root (fragment definitions are allowed: they can only be spread below those fields)."""
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return False
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    return bool(operations) and all(
        operation.operation is DocumentOperation.QUERY
        and all(
            isinstance(selection, FieldNode) and selection.name.value in INTROSPECTION_ROOT_FIELDS
            for selection in operation.selection_set.selections
        )
        for operation in operations
    )


def _read_after(request: web.Request) -> int | None:
    """The WAL position in a request's Inbox-Read-After header (a mutation's Inbox-WAL-Position sent
    back): its queries read nothing older. 400 if it is not one."""
    value = request.headers.get(READ_AFTER_HEADER)
    if value is None:
        return None
    try:
        return parse_position(value)
    except ValueError:
        raise HTTPException(
            400, f"{READ_AFTER_HEADER} must be a WAL position as a mutation's {WAL_POSITION_HEADER} gave it"
        ) from None
