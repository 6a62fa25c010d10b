"""The authentication cache (Settings.auth_cache_seconds), as a caller sees it.

A shop's status written straight to the database is seen at once without the cache, after at
most the cache's TTL with it, and at once when an import announces the change on the system
channel (in-process broker or Redis). Writes are refused at once even while cached (mutations
re-read the status). Caching never lets an expired or forged token in.
Every test runs on SQLite and PostgreSQL.
"""

import asyncio
import time

import jwt
import pytest
from sqlalchemy import select

from models.tables import shop_t
from services.auth import issue_token
from subscriptions import SYSTEM_CHANNEL, create_broker
from tests.support.app import world_api
from tests.support.gql import text_to_creator
from tests.support.world import set_shop_status, unchanged

VIEWER = "query { viewer { role shop { platformId } } }"
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }"
SHOPS = shop_t


async def suspend(engine) -> int:
    """Suspend shop s1 as an import would, but announce nothing; its primary key."""
    await set_shop_status(engine, "s1", "SUSPENDED")
    async with engine.connect() as conn:
        return (await conn.execute(select(SHOPS.c.id).where(SHOPS.c.platform_id == "s1"))).scalar_one()


async def outcome(api, token: str) -> str:
    """ "OK" when the viewer query succeeds as the shop, else the error code (401 iff UNAUTHENTICATED)."""
    status, body = await api.post(VIEWER, headers={"Authorization": f"Bearer {token}"})
    if "errors" not in body:
        assert status == 200 and body["data"]["viewer"] == {"role": "SELLER", "shop": {"platformId": "s1"}}, body
        return "OK"
    code = body["errors"][0]["extensions"]["code"]
    assert status == (401 if code == "UNAUTHENTICATED" else 200) and body.get("data") is None, (status, body)
    return code


async def test_without_cache_a_suspension_is_refused_on_the_next_request(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path)
    assert api.runtime.settings.auth_cache_seconds == 0
    token = api.token("shop:s1")
    assert await outcome(api, token) == "OK"
    await suspend(api.engine)
    assert await outcome(api, token) == "SHOP_INACTIVE"


async def test_with_cache_a_suspension_is_refused_once_the_ttl_passes(aiohttp_client, database_url, tmp_path):
    ttl = 0.5
    api = await world_api(aiohttp_client, database_url, tmp_path, auth_cache_seconds=ttl)
    token = api.token("shop:s1")
    cached_at = time.monotonic()
    assert await outcome(api, token) == "OK"
    await suspend(api.engine)
    assert await outcome(api, token) == "OK"  # still the cached ACTIVE viewer
    await asyncio.sleep(max(0.0, cached_at + ttl - time.monotonic()) + 0.2)
    assert await outcome(api, token) == "SHOP_INACTIVE"


async def test_a_suspended_shop_cannot_write_while_its_viewer_is_cached(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, auth_cache_seconds=60)
    assert await outcome(api, api.token("shop:s1")) == "OK"
    await suspend(api.engine)
    async with unchanged(api.engine):
        status, body = await api.post(SEND, text_to_creator(1, "hello", "k1"), as_="shop:s1")
        assert status == 200 and body.get("data") is None, body
        assert body["errors"][0]["extensions"]["code"] == "SHOP_INACTIVE", body


@pytest.mark.parametrize("broker", ["memory", "redis"])
async def test_a_status_announcement_clears_the_cache_at_once(request, aiohttp_client, database_url, tmp_path, broker):
    redis_url = request.getfixturevalue("redis_server").url if broker == "redis" else None
    api = await world_api(aiohttp_client, database_url, tmp_path, auth_cache_seconds=60, redis_url=redis_url)
    token = api.token("shop:s1")
    assert await outcome(api, token) == "OK"
    shop_id = await suspend(api.engine)
    assert await outcome(api, token) == "OK"  # cached for a minute
    # In process: the app's own broker. With Redis: a broker of its own, as `server.py import` uses.
    publisher = api.runtime.broker if redis_url is None else create_broker(redis_url)
    if redis_url:
        await publisher.start()
    try:
        assert await publisher.publish(SYSTEM_CHANNEL, {"type": "shop_status", "shop_id": shop_id})
    finally:
        if redis_url:
            await publisher.close()
    deadline = time.monotonic() + 2.0
    while (seen := await outcome(api, token)) == "OK" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert seen == "SHOP_INACTIVE"


async def test_a_cached_token_is_refused_once_it_expires(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, auth_cache_seconds=60, token_leeway_seconds=1)
    token = issue_token(api.secret, "shop:s1", 2)
    expires = jwt.decode(token, options={"verify_signature": False})["exp"] + 1  # accepted within the leeway
    assert await outcome(api, token) == "OK"
    assert await outcome(api, token) == "OK"  # now served from the cache
    await asyncio.sleep(max(0.0, expires - time.time()) + 0.1)
    assert await outcome(api, token) == "UNAUTHENTICATED"
    assert await outcome(api, api.token("shop:s1")) == "OK"  # the subject itself is still fine


@pytest.mark.filterwarnings("ignore:The HMAC key")
async def test_forged_tokens_are_refused_after_a_good_one_is_cached(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, auth_cache_seconds=60)
    good = api.token("shop:s1")
    assert await outcome(api, good) == "OK"
    header, payload, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    longer = jwt.encode({**claims, "exp": claims["exp"] + 3600}, "k", algorithm="HS256").split(".")[1]
    forged = [
        issue_token("another-secret-" + "y" * 32, "shop:s1"),  # another key
        f"{header}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}",  # altered signature
        f"{header}.{longer}.{signature}",  # altered claims under the good signature
        f"{header}.{payload}.",  # signature stripped
        jwt.encode(claims, None, algorithm="none"),  # unsigned
    ]
    for token in forged:
        assert await outcome(api, token) == "UNAUTHENTICATED", token
    assert await outcome(api, good) == "OK"
