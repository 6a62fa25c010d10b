"""Per-principal token buckets for queries and mutations, in-process and shared through Redis."""


from server import APP_STATE, create_app
from tests.client import GraphQLClient
from tests.conftest import JWT_SECRET, make_settings
from tests.gql import SEND, gid, text_to_creator
from tests.world import build_world

LIMITED = dict(query_burst=3, query_rate=0.01, mutation_burst=2, mutation_rate=0.01)


async def _client(aiohttp_client, settings) -> GraphQLClient:
    app = create_app(settings)
    return GraphQLClient(await aiohttp_client(app), JWT_SECRET, app[APP_STATE])


async def test_queries_over_the_rate_are_refused(aiohttp_client, database_url, tmp_path):
    api = await _client(aiohttp_client, make_settings(database_url, tmp_path, **LIMITED))
    await build_world(api.engine)
    for _ in range(3):
        await api.query("{ categories }", as_="shop:s1")
    errors = await api.errors("{ categories }", as_="shop:s1")
    assert errors[0]["extensions"]["code"] == "RATE_LIMITED"
    assert errors[0]["extensions"]["retryAfter"] > 0
    # Another principal has a bucket of its own.
    await api.query("{ categories }", as_="shop:s2")


async def test_mutations_over_the_rate_answer_in_user_errors_and_change_nothing(aiohttp_client, database_url,
                                                                                tmp_path):
    api = await _client(aiohttp_client, make_settings(database_url, tmp_path, **LIMITED))
    await build_world(api.engine)
    for i in range(2):
        data = await api.query(SEND, text_to_creator(1, f"m{i}", f"k{i}"), as_="shop:s1")
        assert data["sendMessage"]["userErrors"] == []
    data = await api.query(SEND, text_to_creator(1, "too many", "k3"), as_="shop:s1")
    assert data["sendMessage"]["userErrors"][0]["code"] == "RATE_LIMITED"
    assert "retry in" in data["sendMessage"]["userErrors"][0]["message"]
    history = await api.query("""query($id: ID!) { conversation(id: $id) { messages { nodes { id } } } }""",
                              {"id": gid("Conversation", 1)}, as_="creator:c1")
    assert len(history["conversation"]["messages"]["nodes"]) == 2



async def test_processes_share_buckets_through_redis(aiohttp_client, database_url, tmp_path, redis_server):
    settings = make_settings(database_url, tmp_path, redis_url=redis_server.url, **LIMITED)
    first, second = await _client(aiohttp_client, settings), await _client(aiohttp_client, settings)
    await build_world(first.engine)
    await first.query("{ categories }", as_="creator:c1")
    await second.query("{ categories }", as_="creator:c1")
    await first.query("{ categories }", as_="creator:c1")
    errors = await second.errors("{ categories }", as_="creator:c1")
    assert errors[0]["extensions"]["code"] == "RATE_LIMITED"
