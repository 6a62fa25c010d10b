"""Headless Chromium for tests, driven over the DevTools protocol with aiohttp (no WebDriver).

A page records every request and WebSocket it opens, every HTTP error status and every console
error or uncaught exception, so a test can assert that it loaded nothing from outside loopback and
logged no error. Chromium resolves no host name at all (--host-resolver-rules): only 127.0.0.1 is reachable.
"""

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.support.processes import stop_process

REQUIRE_BROWSER = os.environ.get("INBOX_REQUIRE_BROWSER") == "1"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-port=0",
)  # on 127.0.0.1
TIMEOUT = 10.0


def chromium_or_skip() -> str:
    """The chromium binary; skips the test without it (fails with INBOX_REQUIRE_BROWSER=1, as in CI)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "chromium is not installed (apt-get install -y chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(f"a browser is required (INBOX_REQUIRE_BROWSER=1): {message}")
        pytest.skip(f"{message}; browser tests skipped")
    return path


class Chromium:
    """A headless chromium process with a throwaway profile; `devtools_url` is its browser endpoint."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.binary, self.profile = binary, profile
        self.process: subprocess.Popen[bytes] | None = None
        self.devtools_url = ""

    def start(self) -> "Chromium":
        self.process = subprocess.Popen(
            [self.binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"  # "<port>\n<browser path>" once it listens
        deadline = time.monotonic() + 20
        while len(lines := port_file.read_text().split() if port_file.exists() else []) < 2:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        self.devtools_url = f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        return self

    def stop(self) -> None:
        stop_process(self.process)


class DevTools:
    """One DevTools connection to the browser; pages are targets attached in flat mode."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session, self.ws = session, ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._pages: dict[str, Page] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str) -> "DevTools":
        session = aiohttp.ClientSession()
        return cls(session, await session.ws_connect(url, max_msg_size=0))

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()
        self._reader.cancel()

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data:
                future = self._pending.pop(data["id"])
                if "error" in data:
                    future.set_exception(RuntimeError(f"DevTools: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))
            elif (page := self._pages.get(data.get("sessionId"))) is not None:
                page.record(data["method"], data["params"])

    async def send(self, method: str, params: dict | None = None, session_id: str | None = None) -> dict:
        message_id = next(self._ids)
        future = self._pending[message_id] = asyncio.get_running_loop().create_future()
        await self.ws.send_json(
            {
                "id": message_id,
                "method": method,
                "params": params or {},
                **({"sessionId": session_id} if session_id else {}),
            }
        )
        return await asyncio.wait_for(future, TIMEOUT)

    async def new_page(self) -> "Page":
        """A blank tab in a fresh browser context (its own storage), recording from the start."""
        context = await self.send("Target.createBrowserContext")
        target = await self.send("Target.createTarget", {"url": "about:blank", **context})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = self._pages[attached["sessionId"]] = Page(self, attached["sessionId"])
        for domain in ("Network", "Runtime", "Log", "Page"):
            await page.send(f"{domain}.enable")
        return page


class Page:
    def __init__(self, devtools: DevTools, session_id: str) -> None:
        self.devtools, self.session_id = devtools, session_id
        self.urls: list[str] = []  # every request and WebSocket, in order
        self._url_of: dict[str, str] = {}  # request id -> URL
        self.http_errors: list[tuple[str, int | str]] = []  # (URL, status >= 400 or why it failed)
        self.errors: list[str] = []  # console errors and uncaught exceptions
        self.frames_sent: list[dict] = []  # WebSocket messages the page sent

    def record(self, method: str, params: dict) -> None:
        if method == "Network.requestWillBeSent":
            self.urls.append(self._url_of.setdefault(params["requestId"], params["request"]["url"]))
        elif method == "Network.loadingFailed":
            self.http_errors.append((self._url_of.get(params["requestId"], "?"), params["errorText"]))
        elif method == "Network.webSocketCreated":
            self.urls.append(params["url"])
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            self.http_errors.append((params["response"]["url"], params["response"]["status"]))
        elif method == "Network.webSocketFrameSent":
            self.frames_sent.append(json.loads(params["response"]["payloadData"]))
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            self.errors.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details["text"])
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(f"{params['entry']['text']} ({params['entry'].get('url', '')})")

    async def send(self, method: str, params: dict | None = None) -> dict:
        return await self.devtools.send(method, params, self.session_id)

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})

    async def evaluate(self, expression: str):
        """The JSON value of a JavaScript expression in the page (awaited if a promise)."""
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = TIMEOUT):
        """The first truthy value of the expression, polled; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not (value := await self.evaluate(expression)):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}; page errors: {self.errors}")
            await asyncio.sleep(0.05)
        return value

    async def frame_sent(self, kind: str, timeout: float = TIMEOUT) -> dict:
        """The first WebSocket message of this type the page sent, once it has."""
        deadline = time.monotonic() + timeout
        while not (sent := [frame for frame in self.frames_sent if frame.get("type") == kind]):
            if time.monotonic() > deadline:
                raise AssertionError(f"the page sent no {kind} message: {self.frames_sent}; errors: {self.errors}")
            await asyncio.sleep(0.05)
        return sent[0]

    def assert_offline(self, port: int) -> None:
        """Everything the page loaded came from the server on loopback, and nothing failed."""
        outside = [
            url
            for url in self.urls
            if not url.startswith("data:") and (urlsplit(url).hostname, urlsplit(url).port) != ("127.0.0.1", port)
        ]
        assert outside == [], f"requests outside 127.0.0.1:{port}: {outside}"
        assert self.http_errors == [] and self.errors == [], (self.http_errors, self.errors)
