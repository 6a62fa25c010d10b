import base64
from tests.gql import gid, say
from tests.world import build_world

def b64(s): return base64.urlsafe_b64encode(s.encode()).decode()

async def test_probe(api):
    await build_world(api.engine)
    await say(api, gid("Creator", 1), "hi", as_="shop:s2")
    for doc, vars in [
        ("query($id: ID!) { conversation(id: $id) { id } }", {"id": gid("Conversation", 99999999999999999999)}),
        ("query($id: ID!) { conversation(id: $id) { id } }", {"id": gid("Conversation", 2**40)}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": gid("Message", 2**40)}),
        ("query($a: String) { conversations(after: $a) { edges { cursor } } }", {"a": b64("2024-01-01T00:00:00+00:00|99999999999")}),
        ("query($a: String) { conversations(after: $a) { edges { cursor } } }", {"a": b64("0001-01-01T00:00:00+05:00|1")}),
        ("query($a: String) { conversations(after: $a) { edges { cursor } } }", {"a": b64("2024-01-01T00:00:00|1")}),
        ("query($a: String) { creators(after: $a, orderBy: GMV_DESC) { edges { cursor } } }", {"a": b64("NaN|1")}),
        ("query($a: String) { creators(after: $a, orderBy: GMV_DESC) { edges { cursor } } }", {"a": b64("1e999999|1")}),
        ("query($a: String) { creators(after: $a, orderBy: GMV_DESC) { edges { cursor } } }", {"a": b64("4000.00|41")}),
        ("query($a: String) { creators(after: $a) { edges { cursor } } }", {"a": b64("99999999999|1")}),
        ("query { creators(filter: {minGmv: \"1e999999\"}) { edges { cursor } } }", {}),
        ("query { creators(filter: {minGmv: \"NaN\"}) { edges { cursor } } }", {}),
        ("query { creators(filter: {minFollowers: 2000000000}) { edges { cursor } } }", {}),
        ("query { creators(filter: {search: \"É\"}) { edges { cursor } } }", {}),
        ("query { creators(filter: {minGmv: \"3900\", maxGmv: \"3900.00\"}) { edges { node { handle gmv30d } } } }", {}),
        ("query { creators(orderBy: GMV_DESC, first: 3) { edges { cursor node { handle gmv30d } } } }", {}),
    ]:
        status, body = await api.post(doc, vars, as_="shop:s2")
        print(status, str(body)[:300])
    assert 0
