"""Persisted queries: Apollo's automatic persisted queries (APQ) over POST and GET, shared by processes
through Redis, and trusted documents (INBOX_TRUSTED_DOCUMENTS); with aiohttp requests, and with Apollo
Client's own PersistedQueryLink against a real server process."""

import hashlib
import json
import re
import shutil
import subprocess
import sys

import pytest
import redis

from core.persisted import (
    MAX_DOCUMENT_BYTES,
    TTL_SECONDS,
    ManifestError,
    MemoryQueryStore,
    load_manifest,
)
from services.auth import issue_token
from tests.support.app import JWT_SECRET, world_api
from tests.support.node import run_script
from tests.support.processes import ROOT, ServerProcess
from tests.support.world import sqlite_world
from tests.support.ws import TRANSPORT_WS, WSClient

COUNTS = "query Counts { inboxCounts { all unread } }"
QUOTA = "query Quota { outreachQuota { weeklyLimit } }"
STAR = "mutation Star($id: ID!) { starConversation(input: {conversationId: $id}) { userErrors { code } } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(text: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(text)}}


async def post(api, body: dict, subject: str = "shop:s1"):
    response = await api.http.post("/graphql", json=body, headers={"Authorization": f"Bearer {api.token(subject)}"})
    return response, await response.json()


async def get(api, params: dict, accept: str = "application/json"):
    headers = {"Authorization": f"Bearer {api.token('shop:s1')}", "Accept": accept}
    response = await api.http.get(
        "/graphql",
        params={key: value if isinstance(value, str) else json.dumps(value) for key, value in params.items()},
        headers=headers,
    )
    return response, await response.json()


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", ())]


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template):
    """Persisted queries never reach the database: these tests run on SQLite only."""
    path = tmp_path / "inbox.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def apq(aiohttp_client, sqlite_url, tmp_path):
    return await world_api(aiohttp_client, sqlite_url, tmp_path)


async def test_a_hash_alone_is_not_found_until_sent_with_its_text(apq):
    response, body = await post(apq, {"extensions": persisted(COUNTS)})
    assert response.status == 200
    assert body["errors"] == [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
    assert response.headers["Cache-Control"] == "private, no-cache, must-revalidate"  # no CDN keeps a miss

    response, body = await post(apq, {"query": COUNTS, "extensions": persisted(COUNTS)})
    assert response.status == 200 and "errors" not in body and "inboxCounts" in body["data"], body

    response, again = await post(apq, {"extensions": persisted(COUNTS), "operationName": "Counts"})
    assert response.status == 200 and again == body


async def test_a_hash_runs_over_get_with_variables(apq):
    first = "query First($n: Int) { creators(first: $n) { nodes { handle } } }"
    params = {"extensions": persisted(first), "variables": {"n": 2}, "operationName": "First"}
    # No `query` parameter: an operation all the same, not the GraphiQL page, whatever the client accepts.
    for accept in ("*/*", "text/html"):
        response, body = await get(apq, params, accept)
        assert response.status == 200 and codes(body) == ["PERSISTED_QUERY_NOT_FOUND"], body
    await post(apq, {"query": first, "variables": {"n": 2}, "extensions": persisted(first)})
    response, body = await get(apq, params, "*/*")
    assert response.status == 200 and len(body["data"]["creators"]["nodes"]) == 2, body


async def test_a_mutation_by_hash_is_refused_over_get(apq):
    by_hash = {"extensions": persisted(STAR), "variables": {"id": "bad"}}
    _, body = await post(apq, {"query": STAR, **by_hash})
    assert codes(body) == ["BAD_USER_INPUT"], body  # it ran: registered
    _, body = await post(apq, by_hash)
    assert codes(body) == ["BAD_USER_INPUT"], body
    response, body = await get(apq, by_hash)
    assert response.status == 400, body
    assert body["errors"] == [
        {"message": "mutations are not allowed when using GET", "extensions": {"code": "BAD_REQUEST"}}
    ]


async def test_a_hash_that_is_not_the_texts_is_refused_and_not_stored(apq):
    response, body = await post(apq, {"query": QUOTA, "extensions": persisted(COUNTS)})
    assert response.status == 400
    assert body["errors"] == [
        {"message": "provided sha does not match query", "extensions": {"code": "PERSISTED_QUERY_HASH_MISMATCH"}}
    ]
    _, body = await post(apq, {"extensions": persisted(COUNTS)})
    assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize(
    "extension, message",
    [
        ({"version": 2, "sha256Hash": "0" * 64}, "Unsupported persisted query version"),
        ("abc", "Unsupported persisted query version"),
        ({"version": 1, "sha256Hash": "x"}, "extensions.persistedQuery.sha256Hash must be a SHA-256 in hex"),
        ({"version": 1}, "extensions.persistedQuery.sha256Hash must be a SHA-256 in hex"),
    ],
)
async def test_a_malformed_persisted_query_is_a_bad_request(apq, extension, message):
    response, body = await post(apq, {"query": COUNTS, "extensions": {"persistedQuery": extension}})
    assert response.status == 400, body
    assert body["errors"] == [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]


@pytest.mark.parametrize(
    "document, code",
    [
        ("query Bad { inboxCounts { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        ("query Broken { inboxCounts { all }", "GRAPHQL_PARSE_FAILED"),
        (
            "query Deep { conversations(first: 100) { nodes { messages(first: 100) { nodes { id } } } } }",
            "QUERY_TOO_COMPLEX",
        ),
    ],
)
async def test_only_a_document_that_can_run_is_stored(apq, document, code):
    _, body = await post(apq, {"query": document, "extensions": persisted(document)})
    assert codes(body) == [code], body
    _, body = await post(apq, {"extensions": persisted(document)})
    assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_a_document_over_the_size_cap_runs_but_is_not_kept(apq):
    big = "# " + "x" * MAX_DOCUMENT_BYTES + "\n" + COUNTS  # comments are no tokens: within INBOX_MAX_TOKENS
    _, body = await post(apq, {"query": big, "extensions": persisted(big)})
    assert "inboxCounts" in body["data"], body
    _, body = await post(apq, {"extensions": persisted(big)})
    assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_a_process_keeps_the_most_recently_used_documents_within_its_budget():
    store = MemoryQueryStore(budget=10)
    for name in ("a", "b", "c"):
        await store.add(name, name * 4)
    assert [await store.get(name) for name in ("a", "b", "c")] == [None, "bbbb", "cccc"]
    await store.get("b")  # used: c is now the oldest
    await store.add("d", "dddd")
    assert [await store.get(name) for name in ("b", "c", "d")] == ["bbbb", None, "dddd"]


async def test_processes_share_documents_through_redis(aiohttp_client, sqlite_url, tmp_path, redis_server):
    one = await world_api(aiohttp_client, sqlite_url, tmp_path, redis_url=redis_server.url)
    other = await world_api(aiohttp_client, sqlite_url, tmp_path, redis_url=redis_server.url)
    await post(one, {"query": COUNTS, "extensions": persisted(COUNTS)})
    response, body = await post(other, {"extensions": persisted(COUNTS)})
    assert response.status == 200 and "inboxCounts" in body["data"], body
    client = redis.Redis(port=redis_server.port)
    assert 0 < client.ttl(f"inbox:apq:{sha256(COUNTS)}") <= TTL_SECONDS  # refreshed by every use
    client.close()

    # Redis gone: a hash finds nothing and the client sends the text, which still runs.
    redis_server.kill()
    response, body = await post(other, {"extensions": persisted(COUNTS)})
    assert response.status == 200 and codes(body) == ["PERSISTED_QUERY_NOT_FOUND"], body
    response, body = await post(other, {"query": COUNTS, "extensions": persisted(COUNTS)})
    assert response.status == 200 and "inboxCounts" in body["data"], body


# --- trusted documents ------------------------------------------------------------------------------


@pytest.fixture(params=["object", "apollo"])
def manifest(request, tmp_path):
    """A manifest of COUNTS and STAR, as a plain object or in Apollo's manifest format."""
    if request.param == "object":
        data = {sha256(COUNTS): COUNTS, sha256(STAR): STAR}
    else:
        data = {
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [
                {"id": sha256(COUNTS), "name": "Counts", "type": "query", "body": COUNTS},
                {"id": sha256(STAR), "name": "Star", "type": "mutation", "body": STAR},
            ],
        }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
async def trusted(aiohttp_client, sqlite_url, tmp_path, manifest):
    return await world_api(aiohttp_client, sqlite_url, tmp_path, trusted_documents=manifest)


async def test_trusted_documents_run_by_hash_or_by_text(trusted):
    for body in (
        {"extensions": persisted(COUNTS)},
        {"query": COUNTS},
        {"query": COUNTS, "extensions": persisted(COUNTS)},
    ):
        response, result = await post(trusted, body)
        assert response.status == 200 and "inboxCounts" in result["data"], result


async def test_any_other_document_is_refused_in_trusted_mode(trusted):
    not_allowed = [
        {
            "message": "Only the server's trusted documents may run, and this is not one of them.",
            "extensions": {"code": "PERSISTED_QUERY_NOT_ALLOWED"},
        }
    ]
    for body in ({"query": QUOTA}, {"extensions": persisted(QUOTA)}, {"query": QUOTA, "extensions": persisted(QUOTA)}):
        response, result = await post(trusted, body)
        assert response.status == 200 and result["errors"] == not_allowed and result.get("data") is None, result
    response, result = await get(trusted, {"query": QUOTA})
    assert response.status == 200 and codes(result) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    # Nothing was registered by sending the text with its hash.
    _, result = await post(trusted, {"extensions": persisted(QUOTA)})
    assert codes(result) == ["PERSISTED_QUERY_NOT_ALLOWED"]


async def test_a_websocket_runs_only_trusted_documents(trusted):
    url = str(trusted.http.make_url("/graphql"))
    client = await WSClient.connect(trusted.http.session, url, TRANSPORT_WS, trusted.token("shop:s1"))
    assert await client.acked()
    await client.subscribe(QUOTA)
    message = await client.next_payload()
    assert message["type"] == "error" and message["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
    await client.subscribe(COUNTS)
    message = await client.next_payload()
    assert message["type"] == "next" and "inboxCounts" in message["payload"]["data"], message


@pytest.mark.parametrize(
    "content, reason",
    [
        ("{not json", "is not JSON"),
        (json.dumps({"0" * 64: COUNTS}), "the hash is not the SHA-256 of the document"),
        (
            json.dumps(
                {"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": sha256(COUNTS)}]}
            ),
            "the document must be a non-empty string",
        ),
        (json.dumps({"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}), '"version": 1'),
        (json.dumps([COUNTS]), "must be a JSON object"),
        (json.dumps({}), "holds no documents"),
    ],
)
def test_a_bad_manifest_is_refused_with_its_reason(tmp_path, content, reason):
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(ManifestError, match=re.escape(reason)):
        load_manifest(path)


def test_a_bad_manifest_stops_the_server_with_one_line(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"0" * 64: COUNTS}))
    env = {
        "INBOX_DATA_DIR": str(tmp_path),
        "INBOX_TRUSTED_DOCUMENTS": str(path),
        "INBOX_METRICS_PORT": "0",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "server.py", "serve", "--no-demo", "--port", "0"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr == (
        f"INBOX_TRUSTED_DOCUMENTS: {path}: {'0' * 64!r}: the hash is not the SHA-256 of the "
        f"document ({sha256(COUNTS)})\n"
    )


# --- Apollo Client's PersistedQueryLink against `python server.py` -------------------------------------


def apollo_printed(name: str, field: str, selection: str) -> str:
    """What Apollo Client sends for `query NAME { FIELD { SELECTION } }`: its cache adds __typename,
    and the link hashes the printed document."""
    return f"query {name} {{\n  {field} {{\n    {selection}\n    __typename\n  }}\n}}"


@pytest.fixture(scope="module")
def apollo(js_packages, tmp_path_factory):
    """A token of the world's seller s1 and a migrated SQLite database holding the world; after
    `js_packages`, so that the tests skip without Node (and fail in CI) before any work."""
    data = tmp_path_factory.mktemp("apq-world")
    sqlite_world(data)
    return issue_token(JWT_SECRET, "shop:s1"), data


def answered(requests: list[dict]) -> list[dict]:
    """The requests the script logged, each with its status checked against its media type and left out:
    a refusal answers 200 in application/json, and in application/graphql-response+json (which Apollo
    Client 4 prefers, when the server offers it) a request error's 4xx."""
    for request in requests:
        media = request.pop("type")
        refused = request["codes"] and media == "application/graphql-response+json"
        assert (request.pop("status") >= 400) if refused else (request.pop("status") == 200), request
    return requests


def _server(data, name: str, **env) -> ServerProcess:
    env = {
        "INBOX_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'inbox.db'}",
        "INBOX_JWT_SECRET": JWT_SECRET,
        "REDIS_URL": "",
        "INBOX_TRUSTED_DOCUMENTS": "",
        **env,
    }
    return ServerProcess(env, data / f"{name}.log").start()


@pytest.fixture(scope="module")
def apq_server(apollo):
    server = _server(apollo[1], "apq")
    yield server
    server.stop()


@pytest.mark.parametrize("method", ["post", "get"])
def test_apollos_link_registers_a_query_then_sends_its_hash_alone(apollo, apq_server, method):
    token, _ = apollo
    name = f"Counts{method.title()}"  # one document per test: the server keeps what the other registered
    document = f"query {name} {{ inboxCounts {{ all }} }}"
    report = run_script("persisted_queries.mjs", f"{apq_server.url}/graphql", token, method, document, document)
    hashed, query_hash = method.upper(), sha256(apollo_printed(name, "inboxCounts", "all"))
    assert answered(report["requests"]) == [
        {"method": hashed, "sentQuery": False, "sha256Hash": query_hash, "codes": ["PERSISTED_QUERY_NOT_FOUND"]},
        {"method": "POST", "sentQuery": True, "sha256Hash": query_hash, "codes": []},
        {"method": hashed, "sentQuery": False, "sha256Hash": query_hash, "codes": []},
    ]
    assert report["results"] == [{"data": {"inboxCounts": {"__typename": "InboxCounts", "all": 0}}}] * 2


def test_apollos_link_runs_a_trusted_document_and_is_refused_another(apollo, tmp_path):
    token, data = apollo
    counts, quota = apollo_printed("Counts", "inboxCounts", "all"), apollo_printed("Quota", "outreachQuota", "used")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": sha256(counts), "name": "Counts", "type": "query", "body": counts}],
            }
        )
    )
    server = _server(data, "trusted", INBOX_TRUSTED_DOCUMENTS=str(manifest))
    try:
        report = run_script(
            "persisted_queries.mjs",
            f"{server.url}/graphql",
            token,
            "post",
            "query Counts { inboxCounts { all } }",
            "query Quota { outreachQuota { used } }",
        )
    finally:
        server.stop()
    assert answered(report["requests"]) == [
        {"method": "POST", "sentQuery": False, "sha256Hash": sha256(counts), "codes": []},
        {"method": "POST", "sentQuery": False, "sha256Hash": sha256(quota), "codes": ["PERSISTED_QUERY_NOT_ALLOWED"]},
    ]
    assert report["results"] == [
        {"data": {"inboxCounts": {"__typename": "InboxCounts", "all": 0}}},
        {
            "error": {
                "message": "Only the server's trusted documents may run, and this is not one of them.",
                "codes": ["PERSISTED_QUERY_NOT_ALLOWED"],
            }
        },
    ]
