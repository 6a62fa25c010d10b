"""Production answers never suggest names ("Did you mean ...?"): they would describe the schema
that production hides. Development keeps them, as they help a developer."""

import pytest

from tests.support.app import world_api

MISTAKES = [
    ("{ conversationz { nodes { id } } }", None),
    ("{ conversations(folder: UNRED) { nodes { id } } }", None),
    ("query($f: InboxFolder) { conversations(folder: $f) { nodes { id } } }", {"f": "UNRED"}),
    ("{ conversations(folderr: ALL) { nodes { id } } }", None),
    ("{ conversations(filter: {minFolowers: 1}) { nodes { id } } }", None),
    ("query($f: CreatorFilter) { conversations(filter: $f) { nodes { id } } }", {"f": {"minFolowers": 1}}),
    ("{ conversations { nodes { ... on Conversaton { id } } } }", None),
    ("query($f: InboxFoldr) { conversations(folder: $f) { nodes { id } } }", None),
]


@pytest.mark.parametrize(("query", "variables"), MISTAKES)
@pytest.mark.parametrize("environment", ["development", "production"])
async def test_suggestions_only_in_development(aiohttp_client, database_url, tmp_path, environment, query, variables):
    api = await world_api(aiohttp_client, database_url, tmp_path, environment=environment)
    errors = await api.errors(query, variables, as_="shop:s1")
    suggested = any("Did you mean" in error["message"] for error in errors)
    assert suggested == (environment == "development"), errors
    assert all(error["extensions"]["code"] != "INTERNAL_SERVER_ERROR" for error in errors)
