from tests.support.gql import INBOX, SEND, text_to_creator, text_to_shop
from tests.support.world import build_world


async def test_send_and_read_inbox(api):
    await build_world(api.engine)
    data = await api.query(SEND, text_to_creator(1, "Hello there", "k1"), as_="shop:s1")
    assert data["sendMessage"]["userErrors"] == [], data
    data = await api.query(SEND, text_to_shop(1, "Hi back", "r1"), as_="creator:c1")
    assert data["sendMessage"]["userErrors"] == [], data
    inbox = await api.query(INBOX, {"first": 10}, as_="shop:s1")
    assert len(inbox["conversations"]["edges"]) == 1
