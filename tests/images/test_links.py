"""Signed media links (valid, expired, tampered, unknown), who may see an image, and the clean-up of
images nobody sent."""

import asyncio
import time
from datetime import timedelta

from sqlalchemy import update

from models.tables import image_t
from models.types import utcnow
from services import images
from tests.support.app import world_api
from tests.support.images import SEND_IMAGE, encode, image_to_creator, image_to_shop, jpeg_with_gps, picture, upload_ok
from tests.support.world import build_world

NODE = "query($id: ID!) { node(id: $id) { __typename ... on Image { id width url } } }"


async def status_of(api, url: str, headers: dict | None = None) -> int:
    response = await api.http.session.get(url, headers=headers)
    await response.read()
    return response.status


async def test_a_signed_link_works_without_a_token_until_it_expires(api):
    await build_world(api.engine)
    image = await upload_ok(api, jpeg_with_gps(), as_="shop:s1")
    response = await api.http.session.get(image["url"])  # no Authorization header
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == 'inline; filename="image.jpg"'
    assert response.headers["Cache-Control"].startswith("private, max-age=")
    assert 3590 <= int(response.headers["Cache-Control"].rsplit("=", 1)[1]) <= 3600
    etag = response.headers["ETag"]
    assert await status_of(api, image["url"], {"If-None-Match": etag}) == 304
    expires_at = image["urlExpiresAt"]
    assert abs(int(image["url"].split("expires=")[1].split("&")[0]) - _unix(expires_at)) == 0
    assert 3590 <= _unix(expires_at) - time.time() <= 3600


def _unix(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso).timestamp())


async def test_tampered_and_expired_links_get_403_and_unknown_images_404(api):
    await build_world(api.engine)
    image = await upload_ok(api, jpeg_with_gps(), as_="shop:s1")
    url, thumbnail = image["url"], image["thumbnailUrl"]
    origin, path = url.split("/media/")[0], "/media/" + url.split("/media/")[1].split("?")[0]
    expires = int(url.split("expires=")[1].split("&")[0])
    signature = url.split("signature=")[1]
    tampered = [
        url[:-2] + ("AA" if not url.endswith("AA") else "BB"),  # the signature
        url.replace(f"expires={expires}", f"expires={expires + 3600}"),  # a longer life
        url.replace("image.jpg", "image.png"),  # another type
        thumbnail.split("?")[0] + "?" + url.split("?")[1],  # another object under this signature
        origin + path,  # no signature
        f"{origin}{path}?expires=abc&signature={signature}",
    ]
    for link in tampered:
        assert await status_of(api, link) == 403, link
    secret = api.runtime.media_secret
    past = int(time.time()) - 1
    assert await status_of(api, origin + images.sign(secret, path, past)) == 403  # expired
    # Signed right (with the media secret, not the JWT one), but nothing is stored there.
    unknown = f"/media/{'ab' * 32}/image.jpg"
    assert await status_of(api, origin + images.sign(secret, unknown, past + 100)) == 404
    assert await status_of(api, origin + images.sign(api.secret, path, past + 100)) == 403


async def test_links_expire_after_the_configured_lifetime(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, media_url_ttl_seconds=1)
    image = await upload_ok(api, encode(picture(40, 40), "PNG"), as_="shop:s1")
    assert await status_of(api, image["url"]) == 200
    await asyncio.sleep(2.1)
    assert await status_of(api, image["url"]) == 403


async def test_an_image_is_seen_by_its_side_and_once_sent_by_the_other_party(api):
    await build_world(api.engine)
    image = await upload_ok(api, jpeg_with_gps(), as_="shop:s1")

    async def node(subject: str):
        return (await api.query(NODE, {"id": image["id"]}, as_=subject))["node"]

    assert (await node("shop:s1"))["width"] == 600
    assert await node("shop:s2") is None and await node("creator:c1") is None
    # Another side cannot send it.
    for subject, variables in (
        ("shop:s2", image_to_creator(1, image["id"], "k0")),
        ("creator:c1", image_to_shop(1, image["id"], "k0")),
    ):
        payload = (await api.query(SEND_IMAGE, variables, as_=subject))["sendMessage"]
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("NOT_FOUND", ["input", "content", "image", "imageId"])
        ]
    sent = (await api.query(SEND_IMAGE, image_to_creator(1, image["id"], "k1"), as_="shop:s1"))["sendMessage"]
    assert sent["userErrors"] == []
    assert (await node("creator:c1"))["id"] == image["id"]
    assert await node("creator:c2") is None and await node("shop:s2") is None
    # The recipient sees it, but forwarding it is not theirs to do.
    forwarded = (await api.query(SEND_IMAGE, image_to_shop(2, image["id"], "f1"), as_="creator:c1"))["sendMessage"]
    assert [e["code"] for e in forwarded["userErrors"]] == ["NOT_FOUND"]
    # Sent again, to a second creator: both see it.
    await api.query(SEND_IMAGE, image_to_creator(2, image["id"], "k2"), as_="shop:s1")
    assert (await node("creator:c2"))["id"] == image["id"]


async def _age(api, image_gid: str, hours: float) -> None:
    from resolvers.ids import decode_id

    async with api.engine.begin() as conn:
        await conn.execute(
            update(image_t)
            .where(image_t.c.id == decode_id(image_gid, "Image"))
            .values(created_at=utcnow() - timedelta(hours=hours))
        )


async def test_images_not_sent_within_a_day_are_removed(api):
    await build_world(api.engine)
    data = jpeg_with_gps()
    old, shared, sent, fresh = [
        await upload_ok(api, d, as_="shop:s1")
        for d in (encode(picture(30, 30), "PNG"), data, encode(picture(31, 31), "PNG"), encode(picture(32, 32), "PNG"))
    ]
    twin = await upload_ok(api, data, as_="shop:s2")  # the same bytes as `shared`, recent
    await api.query(SEND_IMAGE, image_to_creator(1, sent["id"], "k1"), as_="shop:s1")
    for image in (old, shared, sent):
        await _age(api, image["id"], 25)
    await _age(api, fresh["id"], 23)

    assert await images.remove_unsent(api.runtime) == 2  # old and shared
    assert await status_of(api, old["url"]) == 404 and await status_of(api, old["thumbnailUrl"]) == 404
    assert await status_of(api, shared["url"]) == 200  # its object is also twin's
    for image in (sent, fresh, twin):
        assert await status_of(api, image["url"]) == 200
    assert (await api.query(NODE, {"id": old["id"]}, as_="shop:s1"))["node"] is None
    await _age(api, twin["id"], 25)
    assert await images.remove_unsent(api.runtime) == 1
    assert await status_of(api, twin["url"]) == 404


async def test_clean_ups_racing_uploads_of_the_same_bytes_never_lose_an_object(api):
    """Clean-ups in parallel (as several processes run them) and new uploads of the very bytes they
    delete: every image that remains has its object."""
    await build_world(api.engine)
    for round_ in range(4):
        data = encode(picture(64 + round_, 48), "PNG")  # new bytes each round: the object can go
        old = [await upload_ok(api, data, as_="shop:s1") for _ in range(3)]
        for image in old:
            await _age(api, image["id"], 25)
        results = await asyncio.gather(
            images.remove_unsent(api.runtime),
            images.remove_unsent(api.runtime),
            upload_ok(api, data, as_="shop:s2"),
            images.remove_unsent(api.runtime),
        )
        assert results[0] + results[1] + results[3] == 3, round_
        assert await status_of(api, results[2]["url"]) == 200
        assert await status_of(api, results[2]["thumbnailUrl"]) == 200
