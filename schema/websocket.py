"""strawberry's two WebSocket protocol handlers, with what both protocols need here.

- A socket lives no longer than its token: when the token expires, every operation of the
  socket ends with an UNAUTHENTICATED error and the socket closes with 4403 "token expired";
  operations sent after that are not run. The client reconnects with a fresh token and
  resumes with `after`.
- Legacy `graphql-ws` gets the `connection_init` timeout that strawberry gives
  `graphql-transport-ws` only (close 4408).
- Each handler gives its socket's lease back to the registry when the socket ends.
"""

import asyncio
from contextlib import suppress
from typing import TYPE_CHECKING

from graphql import GraphQLError
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage as LegacyInitMessage
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage
from strawberry.types.execution import ExecutionResult

from core.errors import ErrorCode
from resolvers.context import Context

if TYPE_CHECKING:
    from schema.view import InboxView

FORBIDDEN_CLOSE_CODE = 4403
INIT_TIMEOUT_CLOSE_CODE = 4408
TOKEN_EXPIRED_REASON = "token expired"


def token_expired_error() -> GraphQLError:
    return GraphQLError(
        "The token has expired; reconnect with a fresh token and resume with `after`.",
        extensions={"code": ErrorCode.UNAUTHENTICATED},
    )


class _TokenLifetime:
    """The token expiry of a handler's socket. `end_operations` is the protocol's part."""

    _token_timer: asyncio.TimerHandle | None = None  # a timer, not a sleeping task per idle socket
    _expiring: asyncio.Task[None] | None = None  # referenced, or the loop could drop the task half-way
    context: Context  # set by the protocol handler, as is its websocket
    websocket: AsyncWebSocketAdapter

    def watch_token(self) -> None:
        """After connection_ack: end the socket when its token expires."""
        assert self.context.socket is not None, "acknowledged: authenticate_ws gave the socket its lease"
        delay = max(0.0, self.context.socket.seconds_left())
        self._token_timer = asyncio.get_running_loop().call_later(delay, self.token_expired)

    def refuses_operation(self) -> bool:
        """Whether an operation arriving now must not run (the token expired; the socket is ending)."""
        socket = self.context.socket
        if socket is None or (self._expiring is None and socket.seconds_left() > 0):
            return False
        self.token_expired()
        return True

    def token_expired(self) -> None:
        if self._expiring is None:  # once, from the timer or from an operation that came too late
            self._expiring = asyncio.create_task(self._end_socket())

    async def _end_socket(self) -> None:
        with suppress(WebSocketDisconnected):
            await self.end_operations(token_expired_error())
        await self.websocket.close(FORBIDDEN_CLOSE_CODE, TOKEN_EXPIRED_REASON)

    async def end_operations(self, error: GraphQLError) -> None:
        raise NotImplementedError

    async def release(self) -> None:
        """The socket is over: stop watching its token, give its lease back."""
        if self._token_timer is not None:
            self._token_timer.cancel()
        if self.context.socket is not None:
            await self.context.app.sockets.release_socket(self.context.socket)
            self.context.socket = None


class TransportWSHandler(_TokenLifetime, BaseGraphQLTransportWSHandler[Context, None]):
    """`graphql-transport-ws`."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._token_timer is None:
            self.watch_token()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.refuses_operation():
            await super().handle_subscribe(message)

    async def end_operations(self, error: GraphQLError) -> None:
        """Each operation gets the error as its last result, then `complete`, as when a stream fails."""
        for operation in list(self.operations.values()):
            assert operation.task is not None  # set before the operation is registered
            operation.task.cancel()  # before sending: the task sends nothing after the error
            await operation.send_next(ExecutionResult(data=None, errors=[error]))
            await operation.send_operation_message({"id": operation.id, "type": "complete"})

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            await self.release()


class LegacyWSHandler(_TokenLifetime, BaseGraphQLWSHandler[Context, None]):
    """Legacy `graphql-ws` (subscriptions-transport-ws). strawberry closes a rejected connection
    with 1011 there; both protocols close with 4403 here."""

    _init_received = False
    _init_timeout: asyncio.Task[None] | None = None  # referenced, or the loop could drop the task half-way
    view: "InboxView"

    async def handle(self) -> None:
        timeout = self.view.connection_init_wait_timeout.total_seconds()
        timer = asyncio.get_running_loop().call_later(timeout, self._init_timed_out)
        try:
            await super().handle()
        finally:
            timer.cancel()
            await self.release()

    def _init_timed_out(self) -> None:
        if not self._init_received:
            self._init_timeout = asyncio.create_task(
                self.websocket.close(INIT_TIMEOUT_CLOSE_CODE, "Connection initialisation timeout")
            )

    async def handle_connection_init(self, message: LegacyInitMessage) -> None:
        self._init_received = True
        try:
            await self.view.authenticate_ws(self.context, message.get("payload"))
        except ConnectionRejectionError:
            await self.websocket.close(FORBIDDEN_CLOSE_CODE, "Forbidden")
            return
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._token_timer is None:
            self.watch_token()

    async def handle_start(self, message: StartMessage) -> None:
        if not self.refuses_operation():
            await super().handle_start(message)

    async def end_operations(self, error: GraphQLError) -> None:
        """Each operation gets the error as its last `data`, then `complete`, as when a stream fails."""
        for operation_id in list(self.tasks):
            await self.send_data_message(ExecutionResult(data=None, errors=[error]), operation_id)
            await self.cleanup_operation(operation_id)  # cancels it; strawberry then sends `complete`
