"""Operation limits: depth, aliases, tokens and cost, with the cost reported on every answer."""

from tests.support.gql import INBOX
from tests.support.world import build_world


async def test_cost_is_reported(api):
    await build_world(api.engine)
    status, body = await api.post(INBOX, {"first": 5}, as_="shop:s1")
    assert status == 200 and "errors" not in body
    # $first counts at its value: 2 + 5 x 5 objects a row + pageInfo.
    assert body["extensions"]["cost"] == 2 + 5 * 5 + 1


async def test_costly_query_is_refused(api):
    await build_world(api.engine)
    query = """{ conversations(first: 100) { nodes { messages(last: 100) { nodes { id } } } } }"""
    errors = await api.errors(query, as_="shop:s1")
    assert errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_deep_aliased_and_long_queries_are_refused(api):
    await build_world(api.engine)
    deep = (
        "{ viewer { shop { products { nodes { shop { products { nodes { shop { products { nodes { shop { "
        "products { nodes { id } } } } } } } } } } } } } }"
    )
    aliases = "{ " + " ".join(f"a{i}: categories" for i in range(16)) + " }"
    long = "{ " + " ".join("categories" for _ in range(2100)) + " }"
    for query in (deep, aliases, long):
        errors = await api.errors(query, as_="shop:s1")
        assert errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX", (query[:40], errors)
