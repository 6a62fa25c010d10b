"""Managing webhook endpoints: sellers only, ten per shop under racing creations, the secret shown
only on create and rotate, public HTTPS addresses only (checked again after resolving, at delivery),
and deliveries listed newest first in one statement whatever the number of endpoints."""

import asyncio
import socket

import pytest
import pytest_asyncio

from core.webhook_http import GuardedResolver, RefusedAddress, WebhookClient, is_public
from tests.support.app import world_api
from tests.support.gql import gid, send_ok, text_to_creator
from tests.support.receiver import Receiver
from tests.support.webhooks import (
    CREATE,
    DELETE,
    ENDPOINTS,
    REDELIVER,
    ROTATE,
    UPDATE,
    create_endpoint,
    endpoints,
    settled,
)

PUBLIC = "https://hooks.example.com/inbox"  # not resolved: the safety test below covers names
HOSTNAME = socket.gethostname()


@pytest_asyncio.fixture
async def api(aiohttp_client, database_url, tmp_path):
    return await world_api(aiohttp_client, database_url, tmp_path, webhook_allow_private=True)


@pytest_asyncio.fixture
async def production(aiohttp_client, database_url, tmp_path):
    """The app as deployed: INBOX_WEBHOOK_ALLOW_PRIVATE unset."""
    return await world_api(aiohttp_client, database_url, tmp_path)


def create_input(url: str, types=("MESSAGE_CREATED",)) -> dict:
    return {"input": {"url": url, "eventTypes": list(types)}}


async def test_creators_have_no_webhooks(api):
    for document, variables in [
        (ENDPOINTS, {}),
        (CREATE, create_input("http://127.0.0.1:9/hook")),
        (ROTATE, {"input": {"endpointId": gid("WebhookEndpoint", 1)}}),
        (REDELIVER, {"input": {"deliveryId": gid("WebhookDelivery", 1)}}),
    ]:
        (error,) = await api.errors(document, variables, as_="creator:c1")
        assert error["extensions"]["code"] == "FORBIDDEN", error
    assert await endpoints(api) == []


async def test_the_secret_shows_on_create_and_rotate_only_and_another_shop_sees_nothing(api):
    endpoint, secret = await create_endpoint(api, "http://127.0.0.1:9/hook", ["BLOCK_CHANGED", "MESSAGE_CREATED"])
    assert endpoint["eventTypes"] == ["BLOCK_CHANGED", "MESSAGE_CREATED"] and endpoint["isEnabled"] is True
    changed = await api.query(
        UPDATE, {"input": {"endpointId": endpoint["id"], "eventTypes": ["CONVERSATION_STARTED"]}}, as_="shop:s1"
    )
    assert changed["updateWebhookEndpoint"]["signingSecret"] is None
    assert changed["updateWebhookEndpoint"]["endpoint"]["eventTypes"] == ["CONVERSATION_STARTED"]
    rotated = (await api.query(ROTATE, {"input": {"endpointId": endpoint["id"]}}, as_="shop:s1"))["rotateWebhookSecret"]
    assert rotated["signingSecret"].startswith("whsec_") and rotated["signingSecret"] != secret

    assert await endpoints(api, as_="shop:s2") == []
    node = await api.query("query($id: ID!) { node(id: $id) { id } }", {"id": endpoint["id"]}, as_="shop:s2")
    assert node == {"node": None}
    other = await api.query(DELETE, {"input": {"endpointId": endpoint["id"]}}, as_="shop:s2")
    assert [e["code"] for e in other["deleteWebhookEndpoint"]["userErrors"]] == ["NOT_FOUND"]

    deleted = await api.query(DELETE, {"input": {"endpointId": endpoint["id"]}}, as_="shop:s1")
    assert deleted["deleteWebhookEndpoint"]["userErrors"] == []
    assert await endpoints(api) == []


async def test_ten_endpoints_per_shop_even_when_creations_race(api):
    results = await asyncio.gather(
        *(api.query(CREATE, create_input(f"http://127.0.0.1:9/hook{n}"), as_="shop:s1") for n in range(15))
    )
    payloads = [r["createWebhookEndpoint"] for r in results]
    assert sum(p["userErrors"] == [] for p in payloads) == 10
    refused = [p["userErrors"] for p in payloads if p["userErrors"]]
    assert refused == [[{"code": "INVALID_INPUT", "message": refused[0][0]["message"], "field": ["input"]}]] * 5
    assert "at most 10" in refused[0][0]["message"]
    assert len(await endpoints(api)) == 10
    # Another shop's count is its own; a deleted endpoint frees its place.
    await create_endpoint(api, "http://127.0.0.1:9/other", as_="shop:s2")
    first = (await endpoints(api))[0]["id"]
    await api.query(DELETE, {"input": {"endpointId": first}}, as_="shop:s1")
    await create_endpoint(api, "http://127.0.0.1:9/again")


async def test_bad_input_is_refused_and_changes_nothing(api):
    for variables, field in [
        (create_input("http://127.0.0.1:9/hook", types=()), ["input", "eventTypes"]),
        (create_input("ftp://127.0.0.1/hook"), ["input", "url"]),
        (create_input("not a url"), ["input", "url"]),
        (create_input("http://user:pw@127.0.0.1/hook"), ["input", "url"]),
        (create_input("https://x.example/" + "a" * 2100), ["input", "url"]),
    ]:
        (payload,) = (await api.query(CREATE, variables, as_="shop:s1")).values()
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_INPUT", field)], payload
    (error,) = await api.errors(CREATE, {"input": {"url": PUBLIC, "eventTypes": ["NOPE"]}}, as_="shop:s1")
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "NOPE" in error["message"], error
    assert await endpoints(api) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/inbox",  # https only
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        f"https://{HOSTNAME}/hook",  # a name: this machine's, which resolves to a loopback or private address
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",  # the cloud metadata address
        "https://100.100.100.200/hook",  # Alibaba's metadata, in the shared range
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fe80::1]/hook",
        "https://224.0.0.1/hook",
        "https://0.0.0.0/hook",
    ],
)
async def test_private_addresses_are_refused_in_production(production, url):
    (payload,) = (await production.query(CREATE, create_input(url), as_="shop:s1")).values()
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_INPUT", ["input", "url"])], payload
    assert await endpoints(production) == []


async def test_delivery_checks_the_address_again_after_resolving():
    """A name saved while public that resolves to loopback at delivery (DNS rebinding) gets no request."""
    receiver = await Receiver().start()
    client = WebhookClient(allow_private=False, timeout_seconds=2, limit=4)
    try:
        # A name goes through the resolver (no literal to judge), which refuses its loopback answer.
        for url in [f"https://{HOSTNAME}:{receiver.port}/hook", f"https://127.0.0.1:{receiver.port}/hook"]:
            outcome = await client.post(url, b"{}", {})
            assert outcome.status is None and "public" in (outcome.error or ""), (url, outcome)
        assert (await client.post(receiver.url, b"{}", {})).error == "The URL must start with https:// and name a host."
        assert receiver.received == []
        allowed = WebhookClient(allow_private=True, timeout_seconds=2, limit=4)
        assert (await allowed.post(f"http://localhost:{receiver.port}/hook", b"{}", {})).status == 200
        await allowed.close()
    finally:
        await client.close()
        await receiver.stop()


async def test_the_resolver_refuses_any_answer_that_is_not_public():
    with pytest.raises(RefusedAddress):
        await GuardedResolver().resolve("localhost", 443)  # 127.0.0.1 (and ::1)
    assert not is_public("169.254.169.254") and not is_public("::ffff:10.0.0.1") and is_public("93.184.216.34")


async def test_redirects_are_not_followed():
    from aiohttp import web

    target = await Receiver().start()

    async def redirect(_request: web.Request) -> web.Response:
        raise web.HTTPFound(target.url)

    app = web.Application()
    app.router.add_post("/hook", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    redirecting = Receiver()
    await web.TCPSite(runner, "127.0.0.1", redirecting.port).start()
    client = WebhookClient(allow_private=True, timeout_seconds=2, limit=4)
    try:
        outcome = await client.post(redirecting.url, b"{}", {})
        assert outcome.status == 302 and target.received == []
    finally:
        await client.close()
        await runner.cleanup()
        await target.stop()


async def test_deliveries_page_newest_first_in_one_statement_for_any_number_of_endpoints(api):
    receiver = await Receiver().start()
    try:
        for _ in range(3):
            await create_endpoint(api, receiver.url, ["MESSAGE_CREATED"])
        for n in range(5):
            await send_ok(api, text_to_creator(2 + n, f"m{n}", f"k{n}"), as_="shop:s1")
        await settled(api, 15)
        with api.count_statements() as one:
            await api.query(ENDPOINTS, {"first": 2}, as_="shop:s1")
        listed = await endpoints(api, first=2)
        # The endpoints, then every endpoint's page at once (besides the viewer's shop lookup, when not cached).
        assert len([q for q in one if "FROM webhook_delivery" in q]) == 1, one
        assert len([q for q in one if "webhook_" in q]) == 2, one
        for endpoint in listed:
            page = endpoint["deliveries"]
            assert len(page["nodes"]) == 2 and page["pageInfo"]["hasNextPage"] is True
            ids = [d["id"] for d in page["nodes"]]
            rest = await endpoints(api, first=10, after=page["pageInfo"]["endCursor"])
            later = next(e for e in rest if e["id"] == endpoint["id"])["deliveries"]["nodes"]
            assert len(later) == 3 and not set(ids) & {d["id"] for d in later}
            texts = [d["createdAt"] for d in page["nodes"] + later]
            assert texts == sorted(texts, reverse=True)
        delivered = await endpoints(api, status="FAILED")
        assert all(e["deliveries"]["nodes"] == [] for e in delivered)
    finally:
        await receiver.stop()
