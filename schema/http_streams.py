"""Subscriptions over HTTP: strawberry's two streaming transports, each stream ending with its token.

- GraphQL over Server-Sent Events (graphql-sse, distinct connections mode): a GET or POST with
  `Accept: text/event-stream` answers `event: next` per result, then `event: complete`, with a
  `: ping` comment every 15 s (strawberry's) so proxies keep an idle stream open.
- Apollo's multipart subscriptions: `Accept: multipart/mixed;subscriptionSpec="1.0"` answers
  `{"payload": result}` parts, a `{}` heartbeat every 5 s (strawberry's, as Apollo's router), and a
  closing boundary. A plain `multipart/mixed` (GraphiQL sends `application/json, multipart/mixed`)
  is not this protocol and gets JSON.

The request authenticates like any other (its Authorization header, before anything runs), and the
operation runs the same resolvers as over a WebSocket: `after` replays without gap or duplicate, the
stream holds one of the principal's subscriptions while it runs (services/live.py), and a seller
whose shop closes loses it. When the token expires the stream's last result is an UNAUTHENTICATED
error, then it ends; the client resubscribes with a fresh token and `after`.
"""

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from typing import Any

from aiohttp import web
from strawberry.http.streaming import HTTPStreamTransport, MultipartSubscriptionTransport, SSETransport
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types.execution import ExecutionResult

from schema.http_transport import prefers_stream
from schema.websocket import token_expired_error

HTTP_STREAM_PROTOCOLS = (GRAPHQL_SSE_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL)


class EventStreams(SSETransport):
    """strawberry's SSE, when the client ranks it above JSON (strawberry streams whenever the type is
    listed at all)."""

    def accepts(self, accept: str) -> bool:
        return prefers_stream(accept) and super().accepts(accept)


class MultipartSubscriptions(MultipartSubscriptionTransport):
    """strawberry's, when the client ranks it above JSON, and with a closing delimiter MIME parsers
    accept. Every part already ends with `\r\n--graphql`, so the stream closes with `--` after it;
    strawberry starts a new delimiter line instead, which leaves an empty part whose "header" is
    `--graphql--` (aiohttp's parser refuses it)."""

    def accepts(self, accept: str) -> bool:
        return prefers_stream(accept) and super().accepts(accept)

    def encode_complete(self) -> str:
        return "--\r\n"


TRANSPORTS: dict[str, type[HTTPStreamTransport]] = {
    GRAPHQL_SSE_PROTOCOL: EventStreams,
    MULTIPART_SUBSCRIPTION_PROTOCOL: MultipartSubscriptions,
}


async def until_expiry(results: AsyncGenerator[Any, None], expires_at: float) -> AsyncGenerator[Any, None]:
    """The results of a streamed operation until `expires_at` (a Unix time), then an UNAUTHENTICATED
    error as the last one. The stream behind is closed either way, giving back its subscription."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (expires_at - time.time())
    try:
        while True:
            try:
                # A deadline per wait, not around the loop: while this generator is suspended at
                # `yield` its consumer runs, and a timeout firing then would cancel the consumer.
                async with asyncio.timeout_at(deadline):
                    result = await anext(results)
            except StopAsyncIteration:
                return
            except TimeoutError:
                yield ExecutionResult(data=None, errors=[token_expired_error()])
                return
            yield result
    finally:
        await results.aclose()


async def write_stream(
    request: web.Request,
    stream: Callable[[], AsyncGenerator[str, None]],
    status: int,
    headers: Mapping[str, str],
    writing: set[asyncio.Task[Any]],
) -> web.StreamResponse:
    """Write a stream's chunks as they come (strawberry's aiohttp writer, closing the stream itself), as
    one of the `writing` tasks that `end_streams` ends. aiohttp notices a client that left only when a
    write fails, at the next heartbeat at the latest; the stream then ends, giving back its subscription."""
    response = web.StreamResponse(status=status, headers=headers)
    await response.prepare(request)
    task = asyncio.current_task()
    assert task is not None, "a request handler runs in a task"
    writing.add(task)
    try:
        async with aclosing(stream()) as chunks:
            async for chunk in chunks:
                await response.write(chunk.encode())
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client left. Not re-raised: aiohttp logs a handler's own as an error, with a traceback
    finally:
        writing.discard(task)
    return response


def end_streams(writing: set[asyncio.Task[Any]]) -> None:
    """At shutdown: cut every stream being written, so the process need not wait out its grace period
    for them. Their clients resubscribe (to another process) with `after`, as after a WebSocket's 1012."""
    for task in list(writing):
        # Not twice: a second cancel lands in strawberry's own clean-up (it awaits its tasks with
        # CancelledError suppressed), which then leaves its reader task behind, never to end.
        if not task.cancelling():
            task.cancel()
