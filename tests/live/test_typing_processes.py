"""Typing indicators across two server processes sharing PostgreSQL and Redis: delivery, the 2-s repeat
rule and a send ending the indicator hold whichever process each request reaches."""

import asyncio

import aiohttp

from services.auth import issue_token
from tests.live.test_typing import REPORT, TYPING
from tests.support.app import JWT_SECRET
from tests.support.gql import SEND, gid, text_to_creator, text_to_shop
from tests.support.processes import post_mutation
from tests.support.ws import TRANSPORT_WS, WSClient

CONVERSATION_1 = gid("Conversation", 1)


async def _report(session, server, *, is_typing: bool = True) -> None:
    variables = {"input": {"conversationId": CONVERSATION_1, "isTyping": is_typing}}
    await post_mutation(session, server, REPORT, variables, "creator:c1")


async def _seller_listening(session, server) -> WSClient:
    """Shop s1's typing subscription on `server`, once the process holds it (its metrics say so)."""
    client = await WSClient.connect(session, f"{server.url}/graphql", TRANSPORT_WS, issue_token(JWT_SECRET, "shop:s1"))
    assert await client.acked()
    await client.subscribe(TYPING)
    metrics = f"http://127.0.0.1:{server.env['INBOX_METRICS_PORT']}/metrics"
    async with asyncio.timeout(10):
        while True:
            async with session.get(metrics) as response:
                if "\ninbox_subscriptions 1.0\n" in await response.text():
                    return client
            await asyncio.sleep(0.05)


async def _indicators(client: WSClient, count: int) -> list[bool]:
    return [(await client.next_payload(10))["payload"]["data"]["typing"]["isTyping"] for _ in range(count)]


async def _opened(session, server) -> None:
    await post_mutation(session, server, SEND, text_to_creator(1, "Hello", "k0"), "shop:s1")


async def test_a_report_on_one_process_reaches_the_other_side_on_the_other(server_pair):
    first, second = server_pair
    async with aiohttp.ClientSession() as session:
        await _opened(session, first)
        seller = await _seller_listening(session, first)
        await _report(session, second)
        await _report(session, second, is_typing=False)
        assert await _indicators(seller, 2) == [True, False]


async def test_repeats_spread_over_processes_are_told_once(server_pair):
    first, second = server_pair
    async with aiohttp.ClientSession() as session:
        await _opened(session, first)
        seller = await _seller_listening(session, first)
        for server in (second, first, second, first):
            await _report(session, server)
        await _report(session, second, is_typing=False)
        await _report(session, first, is_typing=False)
        # One start and one stop: each process's repeats were recognised through Redis.
        assert await _indicators(seller, 2) == [True, False]
        await _report(session, first)  # and a start after the stop is told at once
        assert await _indicators(seller, 1) == [True]


async def test_a_send_on_one_process_ends_an_indicator_reported_on_the_other(server_pair):
    first, second = server_pair
    async with aiohttp.ClientSession() as session:
        await _opened(session, first)
        seller = await _seller_listening(session, second)
        await _report(session, first)
        assert await _indicators(seller, 1) == [True]
        await post_mutation(session, second, SEND, text_to_shop(1, "Typed and sent", "r1"), "creator:c1")
        assert await _indicators(seller, 1) == [False]
