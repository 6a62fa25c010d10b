"""Authentication: who may call the API at all, and what a refused caller gets back."""

import time

import jwt
import pytest

from services.auth import issue_token
from tests.support.app import world_api
from tests.support.gql import COUNTS, gid, text_to_creator
from tests.support.world import build_world, unchanged

VIEWER = "query { viewer { role shop { platformId } creator { platformId } } }"
EXPIRED = -70  # a token's lifetime ending 70 s ago, beyond the 60 s leeway
SEND = """mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id } userErrors { code } } }"""


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def assert_unauthenticated(api, headers: dict, document: str = VIEWER, variables: dict | None = None):
    status, body = await api.post(document, variables, headers=headers)
    assert status == 401, (status, body)
    assert body["data"] is None, body
    assert len(body["errors"]) == 1, body
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
    assert body["errors"][0]["message"], body


@pytest.mark.filterwarnings("ignore:The HMAC key")
async def test_only_valid_tokens_of_known_subjects_get_in(api):
    await build_world(api.engine)
    for subject, role in (("shop:s1", "SELLER"), ("creator:c1", "CREATOR")):
        status, body = await api.post(VIEWER, headers=bearer(issue_token(api.secret, subject)))
        assert status == 200 and "errors" not in body, body
        assert body["data"]["viewer"]["role"] == role
    valid = issue_token(api.secret, "shop:s1")
    # Missing or malformed Authorization headers.
    for headers in (
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer   "},
        {"Authorization": f"Basic {valid}"},
        {"Authorization": valid},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Bearer a.b.c"},
    ):
        await assert_unauthenticated(api, headers)
    # Expired (beyond the 60 s leeway for clock skew).
    await assert_unauthenticated(api, bearer(issue_token(api.secret, "shop:s1", EXPIRED)))
    await assert_unauthenticated(api, bearer(issue_token(api.secret, "creator:c1", EXPIRED)))
    # Badly signed: another secret, no signature ("alg": "none"), another algorithm with the right secret.
    await assert_unauthenticated(api, bearer(issue_token("another-secret-" + "y" * 32, "shop:s1")))
    await assert_unauthenticated(
        api, bearer(jwt.encode({"sub": "shop:s1", "exp": 4_000_000_000}, None, algorithm="none"))
    )
    await assert_unauthenticated(
        api, bearer(jwt.encode({"sub": "shop:s1", "exp": 4_000_000_000}, api.secret, algorithm="HS512"))
    )
    # Well signed, but about nobody we know.
    for subject in ("shop:nope", "creator:nope", "shop:c1", "creator:s1"):
        await assert_unauthenticated(api, bearer(issue_token(api.secret, subject)))
    now = int(time.time())
    for claims in (
        {"exp": now + 60, "iat": now},
        {"sub": "admin:s1", "exp": now + 60, "iat": now},
        {"sub": "shop:", "exp": now + 60, "iat": now},
        {"sub": "shop:s1"},
    ):
        await assert_unauthenticated(api, bearer(jwt.encode(claims, api.secret, algorithm="HS256")))
    # A refused mutation writes nothing.
    async with unchanged(api.engine):
        await assert_unauthenticated(api, {}, SEND, text_to_creator(1, "hello", "k1"))
        await assert_unauthenticated(
            api, bearer(issue_token(api.secret, "shop:s1", EXPIRED)), SEND, text_to_creator(1, "hello", "k1")
        )


async def test_suspended_shop_seller_gets_shop_inactive_on_everything(api):
    await build_world(api.engine)
    for document in (
        VIEWER,
        COUNTS,
        "query { conversations { edges { cursor } } }",
        "query { outreachQuota { used } }",
    ):
        status, body = await api.post(document, as_="shop:s3")
        assert status == 200, (status, body)
        assert body.get("data") is None, body
        assert [error["extensions"]["code"] for error in body["errors"]] == ["SHOP_INACTIVE"], body

    async with unchanged(api.engine):
        status, body = await api.post(SEND, text_to_creator(1, "hello", "k1"), as_="shop:s3")
        assert status == 200, (status, body)
        assert body.get("data") is None, body
        assert body["errors"][0]["extensions"]["code"] == "SHOP_INACTIVE", body
        status, body = await api.post(
            "mutation($id: ID!) { blockCreator(input: {creatorId: $id}) { userErrors { code } } }",
            {"id": gid("Creator", 1)},
            as_="shop:s3",
        )
        assert status == 200 and body["errors"][0]["extensions"]["code"] == "SHOP_INACTIVE", body
    # The creator sees nothing from the suspended shop, and the creator's own access is unaffected.
    data = await api.query("query { conversations { edges { cursor } } }", as_="creator:c1")
    assert data["conversations"]["edges"] == []


def _claims(**changes) -> dict:
    """Claims of a token for shop s1 issued now for an hour, with these claims changed (None: left out)."""
    now = int(time.time())
    claims = {"sub": "shop:s1", "iat": now, "exp": now + 3600}
    for name, value in changes.items():
        claims[name] = value(now) if callable(value) else value
    return {name: value for name, value in claims.items() if value is not None}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": lambda now: str(now + 3600)}, "exp claim must be a number"),
        ({"exp": int("9" * 400)}, "exp claim must be a number"),
        ({"exp": 1e308}, "exp claim must be a number"),
        ({"exp": True}, "expired"),
        ({"exp": float("nan")}, "(exp)"),
        ({"exp": None}, "no exp claim"),
        ({"iat": None}, "no iat claim"),
        ({"iat": lambda now: str(now)}, "iat claim must be a number"),
        ({"iat": lambda now: now - 10, "exp": lambda now: now - 10 + 86_401}, "longer than 86400 s"),
        ({"iat": lambda now: now - 7 * 86_400, "exp": lambda now: now + 60}, "longer than 86400 s"),
        ({"iat": lambda now: now + 300, "exp": lambda now: now + 3600}, "issued more than 60 s ahead"),
        ({"iat": lambda now: now - 3600, "exp": lambda now: now - 61}, "expired"),
        ({"sub": None}, "no sub claim"),
        ({"sub": 123}, "Subject must be a string"),
        ({"sub": ["shop:s1"]}, "Subject must be a string"),
    ],
    ids=[
        "exp-string",
        "exp-400-digits",
        "exp-1e308",
        "exp-boolean",
        "exp-nan",
        "exp-missing",
        "iat-missing",
        "iat-string",
        "ttl-over-max",
        "ttl-over-max-issued-long-ago",
        "iat-5-minutes-ahead",
        "expired-beyond-leeway",
        "sub-missing",
        "sub-number",
        "sub-list",
    ],
)
# Claims are checked before any database work: once, on SQLite.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_tokens_with_bad_claims_are_refused_with_the_reason(api, changes, reason):
    await build_world(api.engine)
    claims = _claims(**changes)  # now: the clock moves between collection and the test
    status, body = await api.post(VIEWER, headers=bearer(jwt.encode(claims, api.secret, algorithm="HS256")))
    assert status == 401 and body["data"] is None, body
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"], body
    assert reason in body["errors"][0]["message"], body


@pytest.mark.parametrize(
    "changes",
    [
        {"iat": lambda now: now + 50},
        {"iat": lambda now: now - 3600, "exp": lambda now: now - 50},
        {"iat": lambda now: now - 10, "exp": lambda now: now - 10 + 86_400},
        {"exp": lambda now: now + 3600.5},
    ],
    ids=["iat-50-s-ahead", "expired-50-s-ago", "ttl-at-the-max", "exp-a-float"],
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_tokens_within_the_leeway_and_the_max_lifetime_are_accepted(api, changes):
    await build_world(api.engine)
    claims = _claims(**changes)
    status, body = await api.post(VIEWER, headers=bearer(jwt.encode(claims, api.secret, algorithm="HS256")))
    assert status == 200 and body["data"]["viewer"]["role"] == "SELLER", body


async def test_the_max_lifetime_and_the_leeway_are_settings(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, max_token_ttl_seconds=600, token_leeway_seconds=5)
    for claims, status in (
        (_claims(exp=lambda now: now + 600), 200),
        (_claims(exp=lambda now: now + 601), 401),
        (_claims(iat=lambda now: now + 30, exp=lambda now: now + 60), 401),
    ):
        answer, body = await api.post(VIEWER, headers=bearer(jwt.encode(claims, api.secret, algorithm="HS256")))
        assert answer == status, (claims, body)


# A fragment spread at the root could select anything: refused.
ROOT_SPREAD = """query IntrospectionQuery { __schema { queryType { name } } ...Root }
  fragment Root on Query { viewer { role } }"""
SCHEMA_ONLY = """query IntrospectionQuery { __schema { queryType { name } types { ...Named } }
  t: __type(name: "Conversation") @include(if: true) { name } } fragment Named on __Type { name }"""


async def test_development_runs_introspection_without_a_token_and_nothing_else(
    api, aiohttp_client, database_url, tmp_path
):
    """GraphiQL loads the schema before a token is entered: in development a document whose every root
    field is `__schema` / `__type` runs without one. Anything else still needs a token, production too."""
    from tests.support.app import client_of, make_settings

    await build_world(api.engine)
    status, body = await api.post(SCHEMA_ONLY)
    assert status == 200 and "errors" not in body, body
    assert body["data"]["__schema"]["queryType"] == {"name": "Query"} and body["data"]["t"] == {"name": "Conversation"}
    response = await api.http.get("/graphql", params={"query": '{ __type(name: "Shop") { name } }'})
    assert response.status == 200 and (await response.json())["data"] == {"__type": {"name": "Shop"}}
    # A bad token is no token: introspection still runs, nothing else does.
    status, body = await api.post(SCHEMA_ONLY, headers=bearer(issue_token(api.secret, "shop:s1", -10)))
    assert status == 200 and "errors" not in body, body
    for document in (
        ROOT_SPREAD,
        "{ __typename }",
        "{ __schema { queryType { name } } viewer { role } }",
        "{ __schema { queryType { name } } ... on Query { viewer { role } } }",
        "query A { __schema { queryType { name } } } query B { viewer { role } }",
        VIEWER,
        COUNTS,
        "subscription { conversationUpdated { id } }",
        "{ __schema { ",
    ):
        await assert_unauthenticated(api, {}, document)
    async with unchanged(api.engine):
        await assert_unauthenticated(api, {}, SEND, text_to_creator(1, "hello", "k1"))
        await assert_unauthenticated(api, {}, "mutation { __typename }")
    production = await client_of(aiohttp_client, make_settings(database_url, tmp_path, environment="production"))
    await assert_unauthenticated(production, {}, SCHEMA_ONLY)
