"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/): an answer's media type, status and Retry-After.

A client whose Accept prefers `application/graphql-response+json` gets that media type with the
spec's status codes: a request error (the document does not parse or validate, the variables do not
coerce, the request was refused before anything ran) answers 4xx or 5xx without a `data` entry; a
result that executed answers 200, field errors and all. Every other client gets `application/json`
as before: 200 for every GraphQL result, errors included. Both HTTP lanes of the view (schema/view.py)
answer through `fill`, so they follow one rule.
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from aiohttp import web

from core.errors import ErrorCode

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
_JSON_RANGES = frozenset({JSON, "application/*", "*/*"})
_GRAPHQL_JSON_TYPES = frozenset({GRAPHQL_RESPONSE, "application/graphql+json"})
_STREAM_TYPES = frozenset({"text/event-stream", "multipart/mixed"})
# A request error's status in application/graphql-response+json by its code; other codes answer 400.
REQUEST_ERROR_STATUS: dict[str | None, int] = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.SHOP_INACTIVE: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_SERVER_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}
# While the database is unreachable: a restart usually takes a few seconds, and the pool reconnects
# by itself once it is back. WebSockets close with 1013 (try again later) instead.
RETRY_AFTER_SECONDS = 2


def media_type(accept: str | None) -> str:
    """The media type answering a request with this Accept header: `application/graphql-response+json`
    when Accept ranks it highest (by quality, then by order), else `application/json`: also without
    Accept, for `*/*`, and when Accept names neither (the spec lets the server choose then)."""
    if accept is None or "graphql-response+json" not in accept:
        return JSON  # nearly every request: one substring test
    chosen, best = JSON, 0.0
    for media_range in accept.split(","):
        name, _, parameters = media_range.partition(";")
        name = name.strip().lower()
        candidate = GRAPHQL_RESPONSE if name == GRAPHQL_RESPONSE else JSON if name in _JSON_RANGES else None
        if candidate is not None and (quality := _quality(parameters)) > best:
            chosen, best = candidate, quality
    return chosen


def prefers_stream(accept: str) -> bool:
    """Whether Accept ranks an event stream (SSE, multipart) above every JSON answer, by quality and
    then by order. urql lists `text/event-stream, multipart/mixed` after the JSON types on every
    request, and wants JSON for its queries; streaming clients list the stream first."""
    if "text/event-stream" not in accept and "multipart/mixed" not in accept:
        return False
    best_json = best_stream = None  # (quality, -position): higher is preferred
    for position, media_range in enumerate(accept.split(",")):
        name, _, parameters = media_range.partition(";")
        name = name.strip().lower()
        rank = (_quality(parameters), -position)
        if name in _STREAM_TYPES:
            best_stream = rank if best_stream is None else max(best_stream, rank)
        elif name in _JSON_RANGES or name in _GRAPHQL_JSON_TYPES:
            best_json = rank if best_json is None else max(best_json, rank)
    return best_stream is not None and best_stream[0] > 0 and (best_json is None or best_stream > best_json)


def _quality(parameters: str) -> float:
    """The `q` of a media range's parameters: 1 when absent, 0 when not a number."""
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def fill(response: web.Response, result: Mapping[str, Any] | Sequence[Any], media: str) -> web.Response:
    """`response` carrying a GraphQL response (a list for a batch) in `media`, with its status."""
    if type(result) is dict and "errors" in result:
        _answer_errors(response, result, media)
    response.body = orjson.dumps(result)  # bytes straight to the socket
    response.content_type = media
    return response


def _answer_errors(response: web.Response, result: dict[str, Any], media: str) -> None:
    """Retry-After when the database is unavailable or a rate refused the request; for a request error
    in application/graphql-response+json, no `data` entry and a 4xx or 5xx status (the refusal's own,
    else its code's)."""
    errors = result["errors"]
    if any(_code(error) == ErrorCode.SERVICE_UNAVAILABLE for error in errors):
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # A result that executed has data, or an error at a field's path (one that nulled all the data).
    if result.get("data") is not None or any("path" in error for error in errors):
        return
    retry_after = (errors[0].get("extensions") or {}).get("retryAfter")
    if isinstance(retry_after, int | float):
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    if media == GRAPHQL_RESPONSE:
        result.pop("data", None)
        if response.status < 400:
            response.set_status(REQUEST_ERROR_STATUS.get(_code(errors[0]), 400))


def _code(error: dict) -> str | None:
    return (error.get("extensions") or {}).get("code")


def refusal(message: str, code: str, status: int, media: str) -> web.Response:
    """A request refused before GraphQL ran it, as one error with its code: with `status` in
    application/json; in application/graphql-response+json with `status` if it is 4xx or 5xx, else
    with the code's (a seller of an inactive shop gets 200 in application/json, 403 here)."""
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return fill(web.Response(status=status), body, media)
