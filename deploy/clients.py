"""Clients as a deployment's users should write them, for the fault run and the cluster tests: a send
retried with its key while the answer is SERVICE_UNAVAILABLE, and a `messageAdded` subscriber that
resumes with `after` its last message whenever its stream ends."""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from resolvers.ids import decode_id, encode_cursor

UNAVAILABLE = "SERVICE_UNAVAILABLE"
# Codes that end a subscription which the client resumes with `after`: a moment's unavailability, or its
# consumer falling too far behind (the server's queue for it overflowed).
RESUMABLE = {UNAVAILABLE, "SLOW_CONSUMER"}
RESUME_WINDOW_SECONDS = 10.0
SEND = """mutation Send($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id content { ... on TextContent { text } } } userErrors { code message } }
}"""
MESSAGE_ADDED = """subscription Live($after: String) {
  messageAdded(after: $after) { id conversation { id } content { ... on TextContent { text } } }
}"""


def message_cursor(message_id: str) -> str:
    """The MessageEdge cursor of a message, from its global id (what `after` takes)."""
    return encode_cursor(decode_id(message_id, "Message"))


class Refused(AssertionError):
    """An answer a client should never get: a 500, or an error other than SERVICE_UNAVAILABLE."""


@dataclass
class SendOutcome:
    message: dict[str, Any] | None  # sendMessage's message once acknowledged
    attempts: int = 0
    unavailable: int = 0  # answers SERVICE_UNAVAILABLE (or a connection refused) before the acknowledgement


async def send(
    session: aiohttp.ClientSession, url: str, token: str, variables: dict, seconds: float = 60
) -> SendOutcome:
    """sendMessage, retried with the same input (its clientMessageId makes a retry of a send that did
    land return the same message) while the answer is SERVICE_UNAVAILABLE or the connection fails.
    Refused for any other error or a business refusal."""
    outcome = SendOutcome(None)
    headers = {"Authorization": f"Bearer {token}"}
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        outcome.attempts += 1
        try:
            async with session.post(url, json={"query": SEND, "variables": variables}, headers=headers) as response:
                if response.status not in (200, 503):
                    raise Refused(f"HTTP {response.status}: {(await response.text())[:500]}")
                body = await response.json()
        except (aiohttp.ClientConnectionError, TimeoutError):
            outcome.unavailable += 1
            await asyncio.sleep(0.1)
            continue
        errors = body.get("errors") or []
        if not errors:
            payload = body["data"]["sendMessage"]
            if payload["userErrors"]:
                raise Refused(f"refused: {payload['userErrors']}")
            outcome.message = payload["message"]
            return outcome
        if {error.get("extensions", {}).get("code") for error in errors} != {UNAVAILABLE}:
            raise Refused(f"errors: {errors}")
        outcome.unavailable += 1
        await asyncio.sleep(0.1)
    return outcome


@dataclass
class ResumingSubscriber:
    """`messageAdded` over graphql-transport-ws. When the stream ends (SERVICE_UNAVAILABLE, SLOW_CONSUMER,
    or the socket closed with its process), it subscribes again with `after` a message it received at
    least RESUME_WINDOW_SECONDS before, and drops by id what it already had.

    Why not after its last message: a stream over many conversations delivers each conversation's
    messages in order, but two conversations' as they commit, not by id. A message committed just
    before another one with a lower id may arrive first; resuming after it would skip the other. A
    cursor some seconds old is older than any transaction in flight then."""

    session: aiohttp.ClientSession
    url: str  # ws:// or http:// of /graphql
    token: str
    after: str | None = None  # where it started; then where it resumes
    received: list[dict[str, Any]] = field(default_factory=list)  # every message, once, in order of arrival
    redelivered: int = 0  # messages a resumption replayed that it already had
    resumed: int = 0
    _seen: set[str] = field(default_factory=set)
    _arrivals: list[tuple[float, int, str]] = field(default_factory=list)  # (when, message pk, its cursor)
    _ws: aiohttp.ClientWebSocketResponse | None = None

    async def next(self, timeout: float = 30) -> dict[str, Any]:
        """The next message delivered, across as many resumptions as it takes."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    if self._ws is None:
                        self._ws = await self._subscribe()
                    frame = await self._ws.receive_json()
                except (aiohttp.ClientError, ConnectionError, TypeError, ValueError):
                    await self._resume()  # closed (TypeError: a CLOSE frame is not JSON), or not up yet
                    continue
                kind = frame.get("type")
                if kind == "ping":
                    await self._ws.send_json({"type": "pong"})
                    continue
                data = (frame.get("payload") or {}).get("data") if kind == "next" else None
                if data is None:  # the stream ended: only ever for a reason to resume
                    if kind in ("next", "error"):
                        payload = frame.get("payload")
                        errors = payload.get("errors", []) if isinstance(payload, dict) else payload or []
                        if {error.get("extensions", {}).get("code") for error in errors} - RESUMABLE:
                            raise Refused(f"subscription errors: {errors}")
                    await self._resume()
                    continue
                message = data["messageAdded"]
                if message["id"] in self._seen:
                    self.redelivered += 1
                    continue
                self._seen.add(message["id"])
                self.received.append(message)
                pk = decode_id(message["id"], "Message")
                self._arrivals.append((time.monotonic(), pk, encode_cursor(pk)))
                return message

    def _resume_cursor(self) -> str | None:
        """The newest message received RESUME_WINDOW_SECONDS ago or earlier, else where it started."""
        settled = time.monotonic() - RESUME_WINDOW_SECONDS
        old = [(pk, cursor) for when, pk, cursor in self._arrivals if when <= settled]
        return max(old)[1] if old else self.after

    async def texts(self, count: int, timeout: float = 30) -> list[str]:
        return [(await self.next(timeout))["content"]["text"] for _ in range(count)]

    async def _subscribe(self) -> aiohttp.ClientWebSocketResponse:
        ws = await self.session.ws_connect(self.url, protocols=["graphql-transport-ws"])
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}})
        ack = await ws.receive_json(timeout=10)
        if ack.get("type") != "connection_ack":
            await ws.close()
            raise ConnectionError(f"no connection_ack: {ack}")
        after = self._resume_cursor()
        variables = {"after": after} if after else {}
        await ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": MESSAGE_ADDED, "variables": variables}}
        )
        return ws

    async def _resume(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
            self.resumed += 1
        await asyncio.sleep(0.2)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
