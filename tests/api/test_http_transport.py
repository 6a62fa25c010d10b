"""GraphQL over HTTP: the media type an answer takes from Accept, and the status codes of each.

`application/graphql-response+json` (when Accept prefers it): request errors answer 4xx or 5xx
without `data`, results that executed 200. `application/json` (no Accept, `*/*`, or when Accept
prefers it): today's codes, 200 for every GraphQL result. Both HTTP lanes, the JSON POST and
strawberry's own (GET here), answer alike. Every answer names its request id in X-Request-Id.
"""

import json
import logging
from urllib.parse import urlencode

import pytest

from schema.http_transport import GRAPHQL_RESPONSE, JSON, media_type
from tests.support.app import client_of, make_settings
from tests.support.world import build_world

GRAPHQL_ACCEPTS = (
    "application/graphql-response+json",
    "application/graphql-response+json, application/json",  # graphql-http's client
    "application/graphql-response+json,application/json;q=0.9",  # Apollo Client 4
    "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed",
)  # urql
JSON_ACCEPTS = (None, "*/*", "application/json", "application/json, application/graphql-response+json;q=0.5")
PARSE_FAILURE = "{"
VALIDATION_FAILURE = "{ viewer { nope } }"
COERCION_FAILURE = ("query($n: Int) { conversations(first: $n) { edges { cursor } } }", {"n": "x"})
OK = "{ inboxCounts { all } }"
FIELD_ERROR = "{ outreachQuota { used } }"  # FORBIDDEN to a creator: data null, but it executed


@pytest.mark.parametrize("accept", GRAPHQL_ACCEPTS)
def test_accept_preferring_graphql_response_json_gets_it(accept):
    assert media_type(accept) == GRAPHQL_RESPONSE


@pytest.mark.parametrize(
    "accept",
    (
        *JSON_ACCEPTS,
        "text/html",
        "application/graphql-response+json;q=0, */*",
        "*/*, application/graphql-response+json;q=0.8",
    ),
)
def test_other_accepts_get_json(accept):
    assert media_type(accept) == JSON


async def _ask(
    api,
    query: str,
    variables: dict | None = None,
    *,
    accept: str | None,
    lane: str,
    as_: str | None = "shop:s1",
    operation: str | None = None,
):
    """(status, content type, body, headers) of one request, POSTed as JSON or sent as a GET."""
    headers = {"Authorization": f"Bearer {api.token(as_)}"} if as_ else {}
    if accept is not None:
        headers["Accept"] = accept
    params = {"query": query, "variables": variables, "operationName": operation}
    if lane == "post":
        response = await api.http.post("/graphql", json=params, headers=headers)
    else:
        response = await api.http.get(
            "/graphql?"
            + urlencode(
                {key: json.dumps(value) if key == "variables" else value for key, value in params.items() if value}
            ),
            headers=headers,
        )
    return response.status, response.content_type, json.loads(await response.read()), response.headers


LANES = pytest.mark.parametrize("lane", ("post", "get"))


@LANES
async def test_request_errors_in_graphql_response_json_are_400_without_data(api, lane):
    await build_world(api.engine)
    for accept in GRAPHQL_ACCEPTS:
        for query, variables, code in (
            (PARSE_FAILURE, None, "GRAPHQL_PARSE_FAILED"),
            (VALIDATION_FAILURE, None, "GRAPHQL_VALIDATION_FAILED"),
            (*COERCION_FAILURE, "BAD_USER_INPUT"),
        ):
            status, media, body, _ = await _ask(api, query, variables, accept=accept, lane=lane)
            assert (status, media) == (400, GRAPHQL_RESPONSE), (accept, query, body)
            assert "data" not in body and body["errors"][0]["extensions"]["code"] == code, (accept, query, body)


@LANES
async def test_request_errors_in_json_keep_status_200_and_data_null(api, lane):
    await build_world(api.engine)
    for accept in JSON_ACCEPTS:
        for query, variables in ((PARSE_FAILURE, None), (VALIDATION_FAILURE, None), COERCION_FAILURE):
            status, media, body, _ = await _ask(api, query, variables, accept=accept, lane=lane)
            assert (status, media) == (200, JSON), (accept, query, body)
            assert body["data"] is None and body["errors"], (accept, query, body)


@LANES
@pytest.mark.parametrize("accept", (GRAPHQL_ACCEPTS[1], None))
async def test_results_that_executed_are_200_in_both_media_types(api, lane, accept):
    await build_world(api.engine)
    status, media, body, _ = await _ask(api, OK, accept=accept, lane=lane)
    assert (status, media) == (200, media_type(accept)) and body["data"]["inboxCounts"]["all"] >= 0, body
    # A field error that nulls all the data is still a result that executed (the spec's partial response).
    status, media, body, _ = await _ask(api, FIELD_ERROR, accept=accept, lane=lane, as_="creator:c1")
    assert (status, media) == (200, media_type(accept)), body
    assert "data" in body and body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body


async def test_refusals_before_graphql_runs(api):
    """Malformed requests keep their 4xx, without `data` in graphql-response+json; an unknown token is
    401 in both; an inactive shop's seller 200 in application/json (as before), 403 in the other."""
    await build_world(api.engine)
    gr = GRAPHQL_ACCEPTS[0]
    headers = {"Authorization": f"Bearer {api.token('shop:s1')}", "Content-Type": "application/json"}
    for accept, expected in ((gr, GRAPHQL_RESPONSE), ("application/json", JSON)):
        response = await api.http.post("/graphql", data=b'{"query":', headers={**headers, "Accept": accept})
        body = json.loads(await response.read())
        assert (response.status, response.content_type) == (400, expected), body
        assert ("data" in body) is (expected == JSON) and body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        status, media, body, _ = await _ask(api, "query A { __typename }", accept=accept, lane="post", operation="B")
        assert (status, media) == (400, expected) and ("data" in body) is (expected == JSON), body
        status, media, body, _ = await _ask(api, OK, accept=accept, lane="post", as_=None)
        assert (status, media) == (401, expected) and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    status, media, body, _ = await _ask(api, OK, accept=gr, lane="post", as_="shop:s3")  # s3 is suspended
    assert (status, media) == (403, GRAPHQL_RESPONSE) and "data" not in body, body
    assert body["errors"][0]["extensions"]["code"] == "SHOP_INACTIVE"
    status, media, body, _ = await _ask(api, OK, accept="application/json", lane="post", as_="shop:s3")
    assert (status, media) == (200, JSON) and body["data"] is None, body


async def test_a_rate_refused_query_says_when_to_retry(aiohttp_client, database_url, tmp_path):
    api = await client_of(aiohttp_client, make_settings(database_url, tmp_path, query_burst=1, query_rate=0.1))
    await build_world(api.engine)
    assert (await _ask(api, OK, accept=None, lane="post"))[0] == 200
    status, media, body, headers = await _ask(api, OK, accept=GRAPHQL_ACCEPTS[0], lane="post")
    assert (status, media) == (429, GRAPHQL_RESPONSE) and "data" not in body, body
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= int(headers["Retry-After"]) <= 10, headers
    status, media, body, headers = await _ask(api, OK, accept="application/json", lane="post")
    assert (status, media) == (200, JSON) and body["data"] is None and 1 <= int(headers["Retry-After"]) <= 10


async def test_every_answer_names_its_request_id(api, caplog):
    await build_world(api.engine)
    caplog.set_level(logging.INFO)
    _, _, _, headers = await _ask(api, OK, accept=None, lane="post")
    generated = headers["X-Request-Id"]
    assert len(generated) == 32 and f'"request_id": "{generated}"' in caplog.text.replace('":"', '": "')
    response = await api.http.post("/graphql", json={"query": OK}, headers={"X-Request-Id": "trace-7"})
    assert response.status == 401 and response.headers["X-Request-Id"] == "trace-7"  # refusals too
    response = await api.http.get(
        "/graphql?query=%7B__typename%7D",
        headers={"X-Request-Id": "trace-8", "Authorization": f"Bearer {api.token('shop:s1')}"},
    )
    assert response.status == 200 and response.headers["X-Request-Id"] == "trace-8"  # strawberry's lane


@pytest.mark.parametrize(
    ("accept", "streams"),
    [
        ("text/event-stream", True),  # graphql-sse's client
        ('multipart/mixed;boundary="graphql";subscriptionSpec="1.0",application/json;q=0.9', True),  # Apollo
        ("text/event-stream, multipart/mixed", True),  # urql's subscriptions
        (
            "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, "
            "multipart/mixed",
            False,
        ),  # urql's queries
        ("application/json, multipart/mixed", False),  # GraphiQL
        ("application/json;q=0.5, text/event-stream", True),
        ("text/event-stream;q=0, application/json", False),
        ("*/*", False),
    ],
)
def test_a_stream_answers_only_when_the_client_ranks_it_above_json(accept, streams):
    from schema.http_transport import prefers_stream

    assert prefers_stream(accept) is streams
