"""A small GraphQL test client over aiohttp's test client, with SQL statement counting."""

import asyncio
from contextlib import contextmanager

from services.auth import issue_token


class GraphQLClient:
    def __init__(self, http, secret: str, runtime):
        self.http = http
        self.secret = secret
        self.runtime = runtime
        self.engine = runtime.engine

    async def wait_subscribed(self, count: int, timeout: float = 5.0) -> None:
        """Wait until the app's broker holds `count` subscriptions (GraphQL has no subscribe ack)."""
        async with asyncio.timeout(timeout):
            while self.runtime.broker.subscribers_count() < count:
                await asyncio.sleep(0.01)

    def token(self, subject: str) -> str:
        return issue_token(self.secret, subject)

    async def post(
        self, query: str, variables: dict | None = None, *, as_: str | None = None, headers: dict | None = None
    ):
        """(status, json body) of a POST to /graphql as the given subject."""
        headers = dict(headers or {})
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.token(as_)}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        return response.status, await response.json()

    async def query(self, query: str, variables: dict | None = None, *, as_: str) -> dict:
        """The `data` of a successful operation; fails the test on any error."""
        status, body = await self.post(query, variables, as_=as_)
        assert status == 200 and "errors" not in body, body
        return body["data"]

    async def errors(self, query: str, variables: dict | None = None, *, as_: str) -> list[dict]:
        """The top-level errors of an operation that must fail."""
        status, body = await self.post(query, variables, as_=as_)
        assert status == 200 and body.get("errors"), body
        return body["errors"]

    @contextmanager
    def count_statements(self):
        """Collect the SQL statements run inside the block."""
        statements: list[str] = []

        def record(statement: str, _parameters) -> None:
            if not statement.startswith(("BEGIN", "PRAGMA")):
                statements.append(statement)

        stop = self.engine.watch_statements(record)
        try:
            yield statements
        finally:
            stop()
