"""Outbound webhook requests, to public HTTPS addresses only, checked where the connection is made.

An endpoint's URL is checked when it is saved and again on every attempt, after resolving: the
connector's resolver refuses a name that resolves to a loopback, private, link-local, multicast,
reserved or cloud-metadata address, so a name that pointed somewhere public when it was saved and
elsewhere since (DNS rebinding) never gets a connection. `allow_private` (INBOX_WEBHOOK_ALLOW_PRIVATE,
development and tests) lifts both checks and allows plain http://.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

MAX_URL_LENGTH = 2048
MAX_RESPONSE_BYTES = 64 * 1024


class RefusedAddress(OSError):
    """The URL names, or resolves to, an address webhooks may not reach."""


def is_public(address: str) -> bool:
    """Whether an IP address is a public unicast one (IPv4 inside IPv6 judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global is False for loopback, private, link-local (169.254.169.254, the metadata address of
    # AWS, GCP and Azure), shared (100.64/10, Alibaba's metadata), reserved and documentation ranges.
    return ip.is_global and not ip.is_multicast


def url_problem(url: str, allow_private: bool) -> str | None:
    """Why `url` cannot be an endpoint (its form, before any lookup), or None."""
    if len(url) > MAX_URL_LENGTH:
        return f"The URL must be at most {MAX_URL_LENGTH} characters."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "The URL is not valid."
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        return "The URL must start with https:// and name a host."
    if parts.username or parts.password or (port is not None and not 0 < port < 65536):
        return "The URL must not carry credentials and must name a valid port."
    return None if allow_private else literal_problem(parts.hostname)


def literal_problem(host: str) -> str | None:
    """Why a host that is an IP literal (or localhost) cannot be reached, or None."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return "The URL must name a public address, not localhost."
    try:
        public = is_public(host.strip("[]"))
    except ValueError:
        return None  # a name: judged once resolved
    return None if public else "The URL must name a public address."


async def resolution_problem(url: str, allow_private: bool) -> str | None:
    """Why the URL's host cannot be reached once resolved (at creation), or None."""
    host = urlsplit(url).hostname or ""
    if allow_private:
        return None
    try:
        await GuardedResolver().resolve(host, 443)
    except RefusedAddress as refused:
        return str(refused)
    except OSError:
        return "The URL's host name does not resolve."
    return None


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing every answer if any address in it is not public."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._resolver.resolve(host, port, family)
        # All or nothing: a name that also resolves somewhere private is refused, rather than hoping
        # the connector tries a public address first.
        if not answers or not all(is_public(answer["host"]) for answer in answers):
            raise RefusedAddress(f"The URL's host {host!r} resolves to an address that is not public.")
        return answers

    async def close(self) -> None:
        await self._resolver.close()


@dataclass(frozen=True)
class Outcome:
    """One attempt's result: the status, or why there was none (refused, timeout, connection error)."""

    status: int | None
    error: str | None


class WebhookClient:
    """One aiohttp session per process for every endpoint: no redirects, bounded time and response size."""

    def __init__(self, allow_private: bool, timeout_seconds: float, limit: int) -> None:
        self._allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _connector(self) -> aiohttp.TCPConnector:
        if self._allow_private:
            return aiohttp.TCPConnector(limit=self._limit)
        return aiohttp.TCPConnector(limit=self._limit, resolver=GuardedResolver())

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        """POST `body`; the status, or the reason there is none. Never raises for the receiver's faults."""
        if self._session is None:
            # trust_env off: a proxy from the environment would connect on our behalf, past the guard.
            self._session = aiohttp.ClientSession(connector=self._connector(), timeout=self._timeout)
        problem = url_problem(url, self._allow_private)
        if problem is not None:
            return Outcome(None, problem)
        try:
            async with self._session.post(
                url, data=body, headers={**headers, "Content-Type": "application/json"}, allow_redirects=False
            ) as response:
                await response.content.read(MAX_RESPONSE_BYTES)  # read, bounded, and dropped
                return Outcome(response.status, None if 200 <= response.status < 300 else f"HTTP {response.status}")
        except TimeoutError:
            return Outcome(None, "The receiver did not answer in time.")
        except aiohttp.ClientConnectorError as error:
            refused = isinstance(error.os_error, RefusedAddress)
            return Outcome(None, str(error.os_error) if refused else "The receiver could not be reached.")
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as error:
            return Outcome(None, f"The request failed: {type(error).__name__}.")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
