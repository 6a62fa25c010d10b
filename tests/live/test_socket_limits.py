"""WebSocket limits: connection_init in time on both protocols, sockets and subscriptions per
principal (holding when they race, in one process and across processes sharing Redis), and
open sockets per process."""

import asyncio

import aiohttp
import pytest

from core.config import Settings
from core.sockets import SocketRegistry
from tests.support.app import client_of, make_settings, world_api
from tests.support.gql import MESSAGE_ADDED
from tests.support.world import build_world
from tests.support.ws import PROTOCOLS, TRANSPORT_WS, WSClient


def _url(api) -> str:
    return str(api.http.make_url("/graphql"))


async def _open(api, subject: str, protocol: str = TRANSPORT_WS) -> WSClient:
    return await WSClient.connect(api.http.session, _url(api), protocol, api.token(subject))


async def _race_sockets(apis, subject: str, count: int, protocol: str = TRANSPORT_WS) -> tuple[list, list]:
    """Open `count` sockets of one subject at once, spread over the apps: (acked, refused)."""
    clients = await asyncio.gather(*(_open(apis[i % len(apis)], subject, protocol) for i in range(count)))
    acked = await asyncio.gather(*(client.acked() for client in clients))
    return (
        [c for c, ok in zip(clients, acked, strict=True) if ok],
        [c for c, ok in zip(clients, acked, strict=True) if not ok],
    )


async def _refusals(clients: list[WSClient], seconds: float = 1.0) -> list[str]:
    """The error codes the clients received within `seconds`."""

    async def codes(client):
        found = []
        try:
            while True:
                message = await client.next_payload(timeout=seconds)
                if message["type"] == "complete":
                    continue
                errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors")
                found += [error["extensions"]["code"] for error in errors or ()]
        except TimeoutError:
            return found

    return [code for found in await asyncio.gather(*(codes(c) for c in clients)) for code in found]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_init_must_come_in_time_on_both_protocols(aiohttp_client, database_url, tmp_path, protocol):
    api = await world_api(aiohttp_client, database_url, tmp_path, ws_init_timeout_seconds=0.3)
    ws = await api.http.session.ws_connect(api.http.make_url("/graphql"), protocols=[protocol])
    frame = await ws.receive(timeout=5)
    assert frame.type == aiohttp.WSMsgType.CLOSE and frame.data == 4408


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_racing_sockets_of_one_principal_are_capped(aiohttp_client, database_url, tmp_path, protocol):
    api = await world_api(aiohttp_client, database_url, tmp_path, ws_max_sockets_per_principal=3)
    acked, refused = await _race_sockets([api], "creator:c1", 12, protocol)
    assert len(acked) == 3 and len(refused) == 9
    assert {client.close_code for client in refused} == {4429}
    assert len((await _race_sockets([api], "creator:c2", 1, protocol))[0]) == 1  # another principal is not held back
    await acked[0].close()
    assert len((await _race_sockets([api], "creator:c1", 2, protocol))[0]) == 1  # the closed one's place


async def test_racing_subscriptions_of_one_principal_are_capped_across_its_sockets(
    aiohttp_client, database_url, tmp_path
):
    api = await world_api(aiohttp_client, database_url, tmp_path, max_subscriptions_per_principal=4)
    sockets, _ = await _race_sockets([api], "creator:c1", 3)
    await asyncio.gather(*(client.subscribe(MESSAGE_ADDED) for client in sockets for _ in range(3)))
    assert sorted(await _refusals(sockets)) == ["RATE_LIMITED"] * 5
    assert api.runtime.broker.subscribers_count() == 4
    (other,) = (await _race_sockets([api], "creator:c2", 1))[0]
    await other.subscribe(MESSAGE_ADDED)
    await api.wait_subscribed(5)
    await sockets[0].close()  # its subscriptions end, and give their places back
    await sockets[1].subscribe(MESSAGE_ADDED)
    assert await _refusals(sockets[1:]) == []


async def test_open_sockets_per_process_are_capped_with_503(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, max_websockets=2)
    held = [
        await api.http.session.ws_connect(api.http.make_url("/graphql"), protocols=[TRANSPORT_WS]) for _ in range(2)
    ]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await api.http.session.ws_connect(api.http.make_url("/graphql"), protocols=[TRANSPORT_WS])
    assert refused.value.status == 503 and refused.value.headers["Retry-After"] == "5"
    await held[0].close()
    await asyncio.sleep(0.1)
    again = await WSClient.connect(api.http.session, _url(api), TRANSPORT_WS, api.token("creator:c1"))
    assert await again.acked()


async def test_caps_hold_across_processes_sharing_redis(aiohttp_client, database_url, tmp_path, redis_server):
    settings = make_settings(
        database_url,
        tmp_path,
        redis_url=redis_server.url,
        ws_max_sockets_per_principal=3,
        max_subscriptions_per_principal=4,
    )
    apis = [await client_of(aiohttp_client, settings) for _ in range(2)]  # two processes' worth of state
    await build_world(apis[0].engine)
    acked, refused = await _race_sockets(apis, "creator:c1", 10)
    assert len(acked) == 3 and {client.close_code for client in refused} == {4429}
    await asyncio.gather(*(client.subscribe(MESSAGE_ADDED) for client in acked for _ in range(3)))
    assert sorted(await _refusals(acked)) == ["RATE_LIMITED"] * 5
    assert sum(api.runtime.broker.subscribers_count() for api in apis) == 4


async def test_a_dead_processs_places_age_out_and_a_live_ones_are_renewed(redis_server):
    settings = Settings(redis_url=redis_server.url, ws_max_sockets_per_principal=2)
    alive, dead, newcomer = (SocketRegistry(settings, lease_seconds=1.0) for _ in range(3))
    await alive.start()
    try:
        assert await alive.admit_socket("creator:1", 0) and await dead.admit_socket("creator:1", 0)
        assert await newcomer.admit_socket("creator:1", 0) is None
        await dead.close()  # gone without giving its place back, and no longer renewing it
        await asyncio.sleep(1.5)  # past the lease: the dead one's place is free, the live one's renewed
        assert await newcomer.admit_socket("creator:1", 0)
        assert await newcomer.admit_socket("creator:1", 0) is None
    finally:
        await alive.close()
        await newcomer.close()
