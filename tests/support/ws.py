"""A WebSocket GraphQL client speaking both protocols strawberry serves on /graphql."""

import asyncio
import itertools

import aiohttp

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
PROTOCOLS = (TRANSPORT_WS, LEGACY_WS)


class WSClient:
    """One connection: `await WSClient.connect(session, url, protocol, token)`."""

    def __init__(self, ws, protocol: str):
        self.ws = ws
        self.protocol = protocol
        self._ids = itertools.count(1)
        self.close_code: int | None = None  # as the server's close frame said
        self.close_reason: str | None = None

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, url: str, protocol: str, token: str | None, timeout: float = 5.0
    ) -> "WSClient":
        ws = await session.ws_connect(url, protocols=[protocol], timeout=aiohttp.ClientWSTimeout(ws_close=timeout))
        client = cls(ws, protocol)
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send_json({"type": "connection_init", "payload": payload})
        return client

    async def acked(self, timeout: float = 5.0) -> bool:
        """True once connection_ack arrives; False if the server closed the socket instead."""
        message = await self._next_frame(timeout)
        return message is not None and message.get("type") == "connection_ack"

    async def subscribe(self, query: str, variables: dict | None = None, operation_name: str | None = None) -> str:
        """Start an operation (of any type: both protocols carry queries and mutations too); its id."""
        op_id = str(next(self._ids))
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        payload = {"query": query, "variables": variables or {}}
        if operation_name is not None:
            payload["operationName"] = operation_name
        await self.ws.send_json({"id": op_id, "type": kind, "payload": payload})
        return op_id

    async def next_payload(self, timeout: float = 5.0) -> dict:
        """The next data/error/complete message of an operation, within `timeout` seconds in all
        (keep-alives and pings do not extend it)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self._next_frame(None)
                if message is None:
                    raise ConnectionError(f"socket closed: {self.ws.close_code}")
                if message.get("type") in ("next", "data", "error", "complete"):
                    return message

    async def _next_frame(self, timeout: float | None) -> dict | None:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.ws.receive()
                if frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    if frame.type == aiohttp.WSMsgType.CLOSE:
                        self.close_code, self.close_reason = frame.data, frame.extra
                    return None
                if frame.type == aiohttp.WSMsgType.TEXT:
                    message = frame.json()
                    if message.get("type") in ("ka", "ping", "pong"):
                        if message["type"] == "ping":
                            await self.ws.send_json({"type": "pong"})
                        continue
                    return message

    async def close(self) -> None:
        await self.ws.close()
