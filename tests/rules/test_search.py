"""Message search (`Query.searchMessages`) and the creator search, both served by trigram indexes: the same
answers on SQLite and PostgreSQL, in any script, for exactly the messages the viewer may read."""

import asyncio

from alembic import command
from sqlalchemy import event, text

from commands.platform_import import import_platform_data
from models.migrate import alembic_config, upgrade
from services.search import snippet
from tests.support.gql import (
    BLOCK,
    all_pages,
    creator_input,
    gid,
    pk_of,
    product_to_creator,
    request_sample,
    say,
    send_ok,
)
from tests.support.world import build_world, world_data

SEARCH = """
query Search($query: String!, $conversationId: ID, $first: Int, $after: String) {
  searchMessages(query: $query, conversationId: $conversationId, first: $first, after: $after) {
    edges { cursor snippet node { id isMine content { ... on TextContent { text } } conversation { id } } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""

# One text per line, sent by shop s1 to creator c1 in this order (oldest first).
TEXTS = [
    "Émilie, our CAFÉ au lait serum is back",  # Latin with accents
    "cafe without an accent",
    "ΟΔΟΣ προς την Αθήνα",  # Greek, with a capital (final) sigma
    "Привет, МИР! Новая коллекция",  # Cyrillic
    "東京で会いましょう",  # Japanese
    "新品上市，限时折扣",  # Chinese
    "สวัสดีครับ ขอบคุณมาก",  # Thai
    "مرحبا بالعالم، عرض خاص",  # Arabic
    "Launch party 🎉🎉 tonight 🚀",  # emoji
    "50% off_today only",  # LIKE wildcards are plain characters
    "100%_sure about it",
    "STRASSE or Straße?",
    "İstanbul trip next week",
    r"Saved to C:\temp\new_files",  # backslashes and quotes are plain characters too
    'She said "hello" and it\'s fine',
]

# query -> the TEXTS it finds, newest first.
EXPECTED = {
    "café": ["Émilie, our CAFÉ au lait serum is back"],
    "CAFE": ["cafe without an accent"],  # accents matter
    "ÉMI": ["Émilie, our CAFÉ au lait serum is back"],
    "οδος": ["ΟΔΟΣ προς την Αθήνα"],  # a final sigma finds the capital
    "ΟΔΟΣ ": ["ΟΔΟΣ προς την Αθήνα"],
    "αθή": ["ΟΔΟΣ προς την Αθήνα"],
    "αθη": [],
    "мир!": ["Привет, МИР! Новая коллекция"],
    "НОВАЯ": ["Привет, МИР! Новая коллекция"],
    "会いま": ["東京で会いましょう"],
    "限时折": ["新品上市，限时折扣"],
    "ขอบคุณ": ["สวัสดีครับ ขอบคุณมาก"],
    "بالعالم": ["مرحبا بالعالم، عرض خاص"],
    "🎉🎉 ": ["Launch party 🎉🎉 tonight 🚀"],
    "y 🎉": ["Launch party 🎉🎉 tonight 🚀"],
    "50%": ["50% off_today only"],
    "0%_": ["100%_sure about it"],
    "% o": ["50% off_today only"],
    "f_t": ["50% off_today only"],
    "%%%": [],
    "___": [],
    "strasse": ["STRASSE or Straße?"],
    "STRAẞE": ["STRASSE or Straße?"],  # the capital sharp s is the sharp s
    "İST": ["İstanbul trip next week"],
    "stanbul": ["İstanbul trip next week"],
    "TRIP NEXT": ["İstanbul trip next week"],
    "an accent": ["cafe without an accent"],
    "an  accent": [],
    "É A": ["Émilie, our CAFÉ au lait serum is back"],
    r":\te": [r"Saved to C:\temp\new_files"],
    r"p\n": [r"Saved to C:\temp\new_files"],
    "w_f": [r"Saved to C:\temp\new_files"],
    '"hello"': ['She said "hello" and it\'s fine'],
    "IT'S": ['She said "hello" and it\'s fine'],
    "'''": [],
    '"""': [],
    "e": None,  # too short
}


def texts(data: dict) -> list[str]:
    return [edge["node"]["content"]["text"] for edge in data["searchMessages"]["edges"]]


async def search(api, query: str, *, as_: str, **variables) -> dict:
    return await api.query(SEARCH, {"query": query, **variables}, as_=as_)


async def refused(api, variables: dict, *, as_: str = "shop:s1") -> str:
    """The error code of a search that must fail."""
    errors = await api.errors(SEARCH, variables, as_=as_)
    assert len(errors) == 1 and errors[0]["path"] == ["searchMessages"], errors
    return errors[0]["extensions"]["code"]


async def test_finds_case_insensitive_substrings_in_every_script(api):
    await build_world(api.engine)
    await say(api, gid("Shop", 1), "Hi!", as_="creator:c1")  # the creator has replied: no limit on sends
    for line in TEXTS:
        await say(api, gid("Creator", 1), line, as_="shop:s1")
    for query, expected in EXPECTED.items():
        if expected is None:
            assert await refused(api, {"query": query}) == "BAD_USER_INPUT"
            continue
        for viewer in ("shop:s1", "creator:c1"):
            assert texts(await search(api, query, as_=viewer)) == expected, (query, viewer)
    # Snippets of short texts are the texts themselves.
    edge = (await search(api, "лекц", as_="creator:c1"))["searchMessages"]["edges"][0]
    assert edge["snippet"] == "Привет, МИР! Новая коллекция" and edge["node"]["isMine"] is False


async def test_text_messages_only_and_only_the_viewers_own(api):
    await build_world(api.engine)
    mine = await say(api, gid("Creator", 1), "Our sample kit ships today", as_="shop:s1")
    await say(api, gid("Creator", 2), "Another sample kit for c2", as_="shop:s1")
    await say(api, gid("Creator", 1), "Trail Gear sample kit, for c1 too", as_="shop:s2")
    reply = await say(api, gid("Shop", 1), "Thanks for the sample kit!", as_="creator:c1")
    # Cards and notices hold text (a note, the notice's wording) but are not searched.
    await request_sample(api, 1, "req-1", "sample kit note, please", as_="creator:c1")
    await send_ok(api, product_to_creator(1, 1, "card-1"), as_="shop:s1")
    assert (await api.query(BLOCK, creator_input(1), as_="shop:s1"))["blockCreator"]["userErrors"] == []

    assert texts(await search(api, "SAMPLE KIT", as_="shop:s1")) == [
        "Thanks for the sample kit!",
        "Another sample kit for c2",
        "Our sample kit ships today",
    ]
    assert texts(await search(api, "sample kit", as_="shop:s2")) == ["Trail Gear sample kit, for c1 too"]
    assert texts(await search(api, "sample kit", as_="creator:c1")) == [
        "Thanks for the sample kit!",
        "Trail Gear sample kit, for c1 too",
        "Our sample kit ships today",
    ]
    assert texts(await search(api, "sample kit", as_="creator:c2")) == ["Another sample kit for c2"]
    assert texts(await search(api, "sample kit", as_="creator:c3")) == []
    assert texts(await search(api, "blocked", as_="creator:c1")) == []
    assert texts(await search(api, "note, please", as_="shop:s1")) == []

    # Within one conversation: the viewer's own; another's answers as one that does not exist.
    conversation = mine["conversation"]["id"]
    scoped = await search(api, "sample kit", as_="creator:c1", conversationId=conversation)
    assert [edge["node"]["id"] for edge in scoped["searchMessages"]["edges"]] == [
        reply["message"]["id"],
        mine["message"]["id"],
    ]
    assert {edge["node"]["conversation"]["id"] for edge in scoped["searchMessages"]["edges"]} == {conversation}
    for viewer in ("shop:s2", "creator:c2"):
        for target in (conversation, gid("Conversation", 999)):
            page = await search(api, "sample kit", as_=viewer, conversationId=target)
            assert page["searchMessages"] == {
                "edges": [],
                "nodes": [],
                "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None},
            }


async def test_pages_newest_first_with_a_keyset_cursor(api):
    await build_world(api.engine)
    for creator in ("c1", "c2"):
        await say(api, gid("Shop", 1), "Hi!", as_=f"creator:{creator}")
    sent = []
    for n in range(7):
        sent.append((await say(api, gid("Creator", 1 + n % 2), f"Offer number {n}", as_="shop:s1"))["message"]["id"])
        await say(api, gid("Creator", 1), f"unrelated {n}", as_="shop:s1")
    newest_first = sent[::-1]
    for size in (1, 3, 7, 50):
        edges, infos = await all_pages(api, SEARCH, {"query": "OFFER"}, "searchMessages", as_="shop:s1", first=size)
        assert [edge["node"]["id"] for edge in edges] == newest_first, size
        assert [edge["cursor"] for edge in edges] == newest_first  # a message's cursor is its ID
        assert [info["hasNextPage"] for info in infos] == [True] * (len(infos) - 1) + [False]
        assert [info["hasPreviousPage"] for info in infos] == [False] + [True] * (len(infos) - 1)
    # The default page is 20; first: 0 reads nothing but says more exist.
    assert len((await search(api, "offer", as_="shop:s1"))["searchMessages"]["edges"]) == 7
    empty = (await search(api, "offer", as_="shop:s1", first=0))["searchMessages"]
    assert empty["edges"] == [] and empty["pageInfo"]["hasNextPage"] is True
    # A page after a cursor stays the same when newer messages arrive.
    first = (await search(api, "offer", as_="shop:s1", first=3))["searchMessages"]
    await say(api, gid("Creator", 1), "Offer number 7", as_="shop:s1")
    following = await search(api, "offer", as_="shop:s1", first=3, after=first["pageInfo"]["endCursor"])
    assert [node["id"] for node in following["searchMessages"]["nodes"]] == newest_first[3:6]


async def test_refuses_short_queries_and_large_pages(api):
    await build_world(api.engine)
    conversation = (await say(api, gid("Creator", 1), "x" * 60, as_="shop:s1"))["conversation"]["id"]
    for variables in (
        {"query": "ab"},
        {"query": "🎉🎉"},
        {"query": ""},
        {"query": "xxx", "first": 51},
        {"query": "xxx", "first": -1},
        {"query": "x" * 101},
        {"query": "xxx", "after": "!!"},
        {"query": "xxx", "conversationId": gid("Shop", 1)},
        {"query": "xxx", "conversationId": "nope"},
    ):
        assert await refused(api, variables) == "BAD_USER_INPUT", variables
    # Three code points are enough, whatever they are; 50 results and 100 characters are allowed.
    assert texts(await search(api, "e\u0301x", as_="shop:s1")) == []
    assert len(texts(await search(api, "xxx", as_="shop:s1", first=50, conversationId=conversation))) == 1
    assert texts(await search(api, "x" * 100, as_="shop:s1")) == []
    # Sellers of an inactive shop are refused, as for every operation.
    errors = await api.errors(SEARCH, {"query": "xxx"}, as_="shop:s3")
    assert [error["extensions"]["code"] for error in errors] == ["SHOP_INACTIVE"], errors


def test_snippets_are_at_most_160_characters_around_the_first_match():
    short = "a" * 160
    assert snippet(short, "aaa") == short
    text_ = "".join(f"{n:04d} " for n in range(200))  # 1,000 characters, every number once
    for needle, head, tail in (
        ("0000", False, True),
        ("0100", True, True),
        ("0199", True, False),
        ("0020", True, True),
    ):
        found = snippet(text_, needle)
        assert len(found) <= 160 and needle in found, needle
        assert found.startswith("…") is head and found.endswith("…") is tail, (needle, found)
        inner = found.strip("…")
        assert inner in text_ and len(found) == 160
    # The match is about in the middle; the first of several matches counts; case is the text's own.
    middle = snippet(text_, "0100")
    assert abs(middle.index("0100") - (160 - 4) // 2) <= 2
    repeated = "x" * 300 + "Needle" + "y" * 300 + "needle" + "z" * 300
    assert "Needle" in snippet(repeated, "needle") and "needle" not in snippet(repeated, "needle")


async def test_the_search_rows_follow_every_message_and_creator_written(api):
    """Sends of every kind, bulk included, are found at once; creators renamed by an import are found by
    their new names only (SQLite's FTS5 tables follow their content tables through triggers)."""
    await build_world(api.engine)
    from tests.support.gql import SEND_BULK, bulk_input

    bulk = (await api.query(SEND_BULK, bulk_input(range(1, 6), "Bulk hello from Glow Lab", "b1"), as_="shop:s1"))[
        "sendBulkMessage"
    ]
    assert bulk["sentCount"] == 5
    assert len(texts(await search(api, "bulk hello", as_="shop:s1"))) == 5
    assert texts(await search(api, "bulk hello", as_="creator:c3")) == ["Bulk hello from Glow Lab"]
    # Racing sends: each is found, in id order, once its send has answered.
    sent = await asyncio.gather(
        *(say(api, gid("Shop", 1), f"Racing hello {n}", as_=f"creator:c{n}") for n in range(6, 16))
    )
    ids = sorted((payload["message"]["id"] for payload in sent), key=lambda gid_: -pk_of(gid_))
    assert [node["id"] for node in (await search(api, "racing hello", as_="shop:s1"))["searchMessages"]["nodes"]] == ids

    marketplace = "query($s: String) { creators(filter: {search: $s}, first: 100) { nodes { platformId } } }"
    inbox = "query($s: String) { conversations(filter: {search: $s}) { nodes { creator { platformId } } } }"

    async def found(needle: str) -> tuple[list[str], list[str]]:
        listed = (await api.query(marketplace, {"s": needle}, as_="shop:s1"))["creators"]["nodes"]
        talked = (await api.query(inbox, {"s": needle}, as_="shop:s1"))["conversations"]["nodes"]
        return [n["platformId"] for n in listed], [n["creator"]["platformId"] for n in talked]

    data = world_data()
    data["creators"][2].update(handle="ΣΟΦΊΑ_style", displayName="Сергей Иванов")  # c3
    data["creators"][3].update(displayName="Ваня 50%")  # c4
    await import_platform_data(api.engine, data)
    assert await found("σοφία") == (["c3"], ["c3"])
    assert await found("ΊΑ_S") == (["c3"], ["c3"])
    assert await found("СЕРГЕЙ") == (["c3"], ["c3"])
    assert await found("я 5") == (["c4"], ["c4"])
    thirties = [f"c{n}" for n in range(39, 29, -1)]
    assert await found("creator3") == (thirties, [])  # c3's old handle is gone
    assert await found("ΣΟ") == (["c3"], ["c3"])  # shorter than a trigram: still found
    data["creators"][2].update(handle="creator3", displayName="Creator Number 3")
    await import_platform_data(api.engine, data)
    assert await found("σοφ") == ([], [])
    assert await found("creator3") == (thirties + ["c3"], ["c3"])


async def test_rows_written_before_the_search_migration_are_found(database_url, aiohttp_client, tmp_path):
    """0005 fills the search tables from the messages and creators that exist."""
    from tests.support.app import world_api

    api = await world_api(aiohttp_client, database_url, tmp_path)
    await say(api, gid("Creator", 1), "Émilie, a message from before", as_="shop:s1")
    await say(api, gid("Shop", 1), "And its answer", as_="creator:c1")
    await api.engine.dispose()
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0002")
    await asyncio.to_thread(upgrade, database_url)
    assert texts(await search(api, "émilie", as_="creator:c1")) == ["Émilie, a message from before"]
    assert texts(await search(api, "ITS ANSWER", as_="shop:s1")) == ["And its answer"]
    nodes = (await api.query('{ creators(filter: {search: "NUMBER 7"}) { nodes { platformId } } }', as_="shop:s1"))[
        "creators"
    ]["nodes"]
    assert nodes == [{"platformId": "c7"}]


async def test_postgresql_plans_use_the_trigram_indexes(aiohttp_client, postgres_url, tmp_path):
    """On a table of some size (30,000 creators, 30,000 messages of two shops, written in SQL: ASCII, so
    `lower` folds them as `fold` does), PostgreSQL takes the trigram index for a rare needle."""
    from tests.support.app import world_api

    api = await world_api(aiohttp_client, postgres_url, tmp_path)
    async with api.engine.begin() as conn:
        for statement in (
            "INSERT INTO creator (platform_id, handle, display_name, follower_count, main_category, gmv_30d, "
            "updated_at) SELECT 'g' || n, 'fan' || n, 'Generated Fan ' || n, n, 'Tech', 0, now() "
            "FROM generate_series(1, 30000) n",
            "INSERT INTO creator_search SELECT id, lower(handle), lower(display_name) FROM creator "
            "WHERE platform_id LIKE 'g%'",
            "INSERT INTO conversation (shop_id, creator_id, entrance, created_at, last_activity_at, "
            "creator_has_replied, seller_message_count) SELECT 1 + id / 10 % 2, id, 'CREATOR_MESSAGES', now(), now(), "
            "false, 0 FROM creator WHERE id % 10 = 0",
            "INSERT INTO message (conversation_id, sender_role, kind, text, created_at) SELECT c.id, 'SELLER', "
            "'TEXT', 'Message ' || g || ', as long as a chat message usually is: ' || CASE WHEN (c.id + g) % 1000 = 0 "
            "THEN 'xylophone quiz' ELSE 'hello there, how are you?' END, now() "
            "FROM conversation c CROSS JOIN generate_series(1, 10) g",
            "INSERT INTO message_search SELECT m.id, m.conversation_id, c.shop_id, c.creator_id, lower(m.text) "
            "FROM message m JOIN conversation c ON c.id = m.conversation_id",
            "ANALYZE",
        ):
            await conn.execute(text(statement))

    async def explain(document: str, variables: dict) -> str:
        """PostgreSQL's plan of the search statement that answering `document` runs."""
        captured = []

        def capture(_conn, _cursor, statement, parameters, *_):
            if "_search" in statement:
                captured.append((statement, parameters))

        event.listen(api.engine.sync_engine, "before_cursor_execute", capture)
        try:
            await api.query(document, variables, as_="shop:s1")
        finally:
            event.remove(api.engine.sync_engine, "before_cursor_execute", capture)
        ((statement, parameters),) = captured
        async with api.engine.connect() as conn:
            return "\n".join(row[0] for row in await conn.exec_driver_sql("EXPLAIN " + statement, parameters))

    ids = "query($q: String!) { searchMessages(query: $q) { nodes { id } } }"
    rare = await explain(ids, {"q": "xylophone"})
    assert "ix_message_search_body" in rare, rare
    # A needle in every other message: the newest rows in id order, until the page is full.
    common = await explain(ids, {"q": "hello"})
    assert "Index Scan Backward" in common and "ix_message_search_body" not in common, common
    creators = await explain(
        "query($s: String) { creators(filter: {search: $s}) { nodes { id } } }", {"s": "creator12"}
    )
    assert "ix_creator_search_text" in creators, creators
