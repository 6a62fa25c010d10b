"""What a page costs in SQL: the statements the API runs, and the wire round trips of each server.

* Statements: the API app is built in-process with `server.create_app(settings)` and driven by
  aiohttp's test client; the engine's statement watcher (`GatedEngine.watch_statements`) records
  each statement with its parameters (replayed by bench/ceiling.py).
* Round trips: a small TCP proxy sits between a server process and PostgreSQL and counts the
  client messages after which the client waits for the server: `Q` (simple query) and `S`
  (Sync, the end of an extended-protocol exchange). So BEGIN, ROLLBACK, pool pings and
  statement preparation count too, exactly as they cost on the wire. It also counts `Execute`/`Q`
  messages, i.e. statements executed (BEGIN, ROLLBACK and pool pings included).
"""

from __future__ import annotations

import asyncio
import struct
import threading
import time
from dataclasses import dataclass

from bench.dataset import PG_HOST, PG_PORT

_SSL_REQUEST, _GSS_REQUEST = 80877103, 80877104


class RoundTripProxy:
    """A loopback TCP proxy to PostgreSQL, run in its own thread, counting round trips."""

    def __init__(self, upstream_host: str = PG_HOST, upstream_port: int = PG_PORT):
        self.upstream = (upstream_host, upstream_port)
        self.round_trips = 0
        self.statements = 0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def __enter__(self) -> RoundTripProxy:
        self._thread = threading.Thread(target=self._run, name="roundtrip-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("round-trip proxy did not start")
        return self

    def __exit__(self, *exc) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def snapshot(self) -> tuple[int, int]:
        return self.round_trips, self.statements

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            self._loop.close()

    async def _handle(self, client_reader, client_writer) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        up = asyncio.ensure_future(self._client_to_server(client_reader, server_writer))
        down = asyncio.ensure_future(self._pipe(server_reader, client_writer))
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        for task in (up, down):
            task.cancel()
        for writer in (client_writer, server_writer):
            writer.close()

    @staticmethod
    async def _pipe(reader, writer) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()

    async def _client_to_server(self, reader, writer) -> None:
        # Untyped messages until the StartupMessage (an SSL/GSS request comes first, maybe).
        while True:
            header = await reader.readexactly(8)
            length, code = struct.unpack("!ii", header)
            rest = await reader.readexactly(length - 8)
            writer.write(header + rest)
            await writer.drain()
            if code not in (_SSL_REQUEST, _GSS_REQUEST):
                break
        while True:
            header = await reader.readexactly(5)
            kind, length = header[:1], struct.unpack("!i", header[1:])[0]
            body = await reader.readexactly(length - 4)
            if kind in (b"Q", b"S"):
                self.round_trips += 1
            if kind in (b"Q", b"E"):  # statements executed (BEGIN, ROLLBACK and pings included)
                self.statements += 1
            writer.write(header + body)
            await writer.drain()


@dataclass
class Cost:
    round_trips: float
    statements: float
    samples: list[tuple[int, int]]


def measure(proxy: RoundTripProxy, request, warmup: int = 5, samples: int = 5) -> Cost:
    """Round trips and statements of one request (`request()` is blocking), the median of `samples`
    sequential requests after `warmup` (pools filled, statements prepared)."""
    for _ in range(warmup):
        request()
    counted = []
    for _ in range(samples):
        time.sleep(0.05)  # let a pool's post-request ROLLBACK land in this request's count
        before = proxy.snapshot()
        request()
        time.sleep(0.05)
        after = proxy.snapshot()
        counted.append((after[0] - before[0], after[1] - before[1]))
    counted.sort()
    mid = counted[len(counted) // 2]
    return Cost(round_trips=mid[0], statements=mid[1], samples=counted)


async def capture_statements(
    database_url: str, secret: str, query: str, variables: dict, authorization: str
) -> tuple[list[tuple[str, tuple]], dict]:
    """The SQL statements (with parameters) the API runs for one request, after a warm-up request,
    and the request's JSON answer. In-process: `server.create_app` + aiohttp's test client."""
    from aiohttp.test_utils import TestClient, TestServer

    from core.config import Settings
    from server import APP_STATE, create_app

    settings = Settings(database_url=database_url, jwt_secret=secret, environment="production")
    app = create_app(settings)
    captured: list[tuple[str, tuple]] = []

    def watcher(statement, parameters):
        captured.append((statement, tuple(parameters or ())))

    async with TestClient(TestServer(app)) as client:
        stop = app[APP_STATE].engine.watch_statements(watcher)  # asyncpg's direct reads too (fastpath/)
        body = {"query": query, "variables": variables}
        headers = {"Authorization": authorization}
        await (await client.post("/graphql", json=body, headers=headers)).json()
        captured.clear()
        answer = await (await client.post("/graphql", json=body, headers=headers)).json()
        stop()
    return list(captured), answer
