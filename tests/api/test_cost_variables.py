"""The cost limit charges the page sizes an operation runs with, variables included."""

import pytest

from tests.support.world import build_world

NESTED = """query Pages($n: Int = 1) { %s }"""
PAGE = (
    "a%d: conversations(first: $n) { nodes { id messages(first: $n) {"
    " nodes { id content { ... on TextContent { text } } } } } }"
)
FIFTEEN = NESTED % " ".join(PAGE % i for i in range(15))


async def test_page_sizes_given_as_variables_are_charged_at_their_values(api):
    await build_world(api.engine)
    status, body = await api.post(FIFTEEN, {"n": 100}, as_="shop:s1")
    assert status == 200 and body.get("data") is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    literal = await api.errors(FIFTEEN.replace("($n: Int = 1)", "").replace("$n", "100"), as_="shop:s1")
    assert error["extensions"]["cost"] == literal[0]["extensions"]["cost"] > 150_000


async def test_an_omitted_variable_is_charged_at_its_default(api):
    await build_world(api.engine)
    status, body = await api.post(FIFTEEN, {}, as_="shop:s1")
    assert status == 200 and "errors" not in body, body
    assert body["extensions"]["cost"] == 15 * (2 + 1 * (1 + 2 + 1 * 2))  # a message and its content card


@pytest.mark.parametrize("argument", ["first", "last"])
async def test_first_and_last_are_charged_alike(api, argument):
    await build_world(api.engine)
    query = f"""query($n: Int!) {{ conversations(first: 100) {{ nodes {{ id
                messages({argument}: $n) {{ nodes {{ id }} }} }} }} }}"""
    small = await api.post(query, {"n": 1}, as_="shop:s1")
    assert small[1]["extensions"]["cost"] == 2 + 100 * (1 + 2 + 1)
    _, body = await api.post(query, {"n": 100}, as_="shop:s1")
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert body["errors"][0]["extensions"]["cost"] == 2 + 100 * (1 + 2 + 100)


async def test_a_variable_in_a_fragment_is_charged_at_its_value(api):
    await build_world(api.engine)
    query = """query($n: Int) { ...Page }
               fragment Page on Query {
                 a: conversations(first: $n) { nodes { messages(last: $n) { nodes { id } } } }
                 b: conversations(first: $n) { nodes { messages(last: $n) { nodes { id } } } } }"""
    _, body = await api.post(query, {"n": 100}, as_="shop:s1")
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_a_variable_that_does_not_coerce_is_refused_by_execution_not_charged(api):
    await build_world(api.engine)
    status, body = await api.post(
        "query($n: Int) { conversations(first: $n) { nodes { id } } }", {"n": "many"}, as_="shop:s1"
    )
    assert status == 200 and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_cost_of_the_named_operation_is_charged(api):
    await build_world(api.engine)
    query = """query Small($n: Int) { conversations(first: $n) { nodes { id } } }
               query Big($n: Int) { a: conversations(first: $n) { nodes { messages(last: $n) { nodes { id } } } }
                                    b: conversations(first: $n) { nodes { messages(last: $n) { nodes { id } } } } }"""
    response = await api.http.post(
        "/graphql",
        json={"query": query, "variables": {"n": 100}, "operationName": "Small"},
        headers={"Authorization": f"Bearer {api.token('shop:s1')}"},
    )
    assert (await response.json())["extensions"]["cost"] == 2 + 100
    response = await api.http.post(
        "/graphql",
        json={"query": query, "variables": {"n": 100}, "operationName": "Big"},
        headers={"Authorization": f"Bearer {api.token('shop:s1')}"},
    )
    assert (await response.json())["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
