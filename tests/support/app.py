"""The app under test: its settings and a GraphQL client of it running in-process."""

import os

from core.config import Settings, parse_switch
from tests.support.client import GraphQLClient

JWT_SECRET = "test-secret-" + "x" * 32
# As the test run's environment says (CI runs the API tests both ways); server processes inherit it.
FAST_PATH = parse_switch(os.environ.get("INBOX_FAST_PATH", "on"), "INBOX_FAST_PATH")


def make_settings(database_url: str, tmp_path, **overrides) -> Settings:
    # No metrics listener unless a test asks for one on a port of its own (tests run side by side).
    values = dict(
        data_dir=tmp_path, database_url=database_url, jwt_secret=JWT_SECRET, metrics_port=0, fast_path=FAST_PATH
    )
    values.update(overrides)
    return Settings(**values)


async def client_of(aiohttp_client, settings: Settings) -> GraphQLClient:
    """A GraphQL client of a running app with these settings (the `api` fixture's, or a test's own)."""
    from server import APP_STATE, create_app

    app = create_app(settings)
    return GraphQLClient(await aiohttp_client(app), JWT_SECRET, app[APP_STATE])


async def world_api(aiohttp_client, database_url: str, tmp_path, **overrides) -> GraphQLClient:
    """`client_of` an app with these settings overridden, on the test world."""
    from tests.support.world import build_world

    api = await client_of(aiohttp_client, make_settings(database_url, tmp_path, **overrides))
    await build_world(api.engine)
    return api
