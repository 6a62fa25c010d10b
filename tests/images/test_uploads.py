"""Uploading images through real GraphQL multipart requests: what is accepted, what the stored file keeps
(no metadata), the thumbnail, the refusals, and multipart being for uploadImage only."""

import io

import pytest
from PIL import Image

from services.images import MAX_BYTES
from tests.support.app import world_api
from tests.support.images import (
    GPS,
    animated_gif,
    encode,
    jpeg_with_gps,
    multipart,
    picture,
    post_upload,
    upload,
    upload_ok,
)
from tests.support.world import build_world


async def fetched(api, url: str) -> bytes:
    response = await api.http.session.get(url)
    assert response.status == 200, response.status
    return await response.read()


def stored_files(api) -> list[bytes]:
    """Every object in the local storage (the data directory's media)."""
    root = api.runtime.storage.root
    return [path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()]


async def test_a_jpeg_is_turned_upright_and_stored_without_any_metadata(api):
    await build_world(api.engine)
    original = jpeg_with_gps(600, 400, orientation=6)  # "rotate 90° clockwise to show"
    assert b"SecretCam" in original and Image.open(io.BytesIO(original)).getexif().get_ifd(GPS)
    image = await upload_ok(api, original, as_="shop:s1", filename="../../etc/passwd.png", content_type="text/html")
    assert (image["mimeType"], image["width"], image["height"]) == ("image/jpeg", 400, 600)

    served = await fetched(api, image["url"])
    assert len(served) == image["sizeBytes"]
    for data in [served, *stored_files(api)]:
        stored = Image.open(io.BytesIO(data))
        assert not stored.getexif() and "exif" not in stored.info and "comment" not in stored.info
        assert b"Exif" not in data and b"SecretCam" not in data and b"shot at home" not in data
    upright = Image.open(io.BytesIO(served)).convert("RGB")
    assert upright.size == (400, 600)
    # The left half was red: turned clockwise, it is the top half now.
    assert upright.getpixel((200, 100))[0] > 200 and upright.getpixel((200, 500))[2] > 200

    thumbnail = Image.open(io.BytesIO(await fetched(api, image["thumbnailUrl"])))
    assert thumbnail.format == "JPEG" and thumbnail.size == (213, 320)
    assert not thumbnail.getexif()


@pytest.mark.parametrize(
    "data, mime_type, size, thumbnail",
    [
        (encode(picture(1000, 500, "RGBA"), "PNG"), "image/png", (1000, 500), ("PNG", (320, 160))),
        (encode(picture(100, 50), "WEBP"), "image/webp", (100, 50), ("WEBP", (100, 50))),  # never enlarged
        (animated_gif(), "image/gif", (400, 200), ("PNG", (320, 160))),
    ],
    ids=["png", "webp", "gif"],
)
async def test_png_webp_and_animated_gif_are_accepted(api, data, mime_type, size, thumbnail):
    await build_world(api.engine)
    image = await upload_ok(api, data, as_="creator:c1", filename="x.bin", content_type="application/octet-stream")
    assert (image["mimeType"], (image["width"], image["height"])) == (mime_type, size)
    served = Image.open(io.BytesIO(await fetched(api, image["url"])))
    assert served.size == size and "comment" not in served.info
    if mime_type == "image/gif":
        assert served.n_frames == 3  # the animation is kept
        assert served.info.get("duration") == 120
    small = Image.open(io.BytesIO(await fetched(api, image["thumbnailUrl"])))
    assert (small.format, small.size) == thumbnail
    assert getattr(small, "n_frames", 1) == 1  # from the first frame


def _truncated_jpeg() -> bytes:
    whole = encode(picture(800, 600), "JPEG")
    return whole[: len(whole) // 2]


@pytest.mark.parametrize(
    "data, code",
    [
        (b"\xff\xd8\xff" + b"\0" * MAX_BYTES, "FILE_TOO_LARGE"),
        (b"<html>not an image</html>", "UNSUPPORTED_FILE"),
        (_truncated_jpeg(), "UNSUPPORTED_FILE"),
        (encode(Image.new("1", (8193, 10)), "PNG"), "UNSUPPORTED_FILE"),  # a side over 8,192
        (encode(Image.new("1", (8000, 5001)), "PNG"), "UNSUPPORTED_FILE"),  # over 40,000,000 pixels
        (encode(picture(50, 50), "BMP"), "UNSUPPORTED_FILE"),
        (encode(picture(50, 50), "TIFF"), "UNSUPPORTED_FILE"),
    ],
    ids=["over-10-MiB", "html", "truncated", "too-wide", "bomb", "bmp", "tiff"],
)
async def test_refusals(api, data, code):
    await build_world(api.engine)
    payload = await upload(api, data, as_="shop:s1")
    assert payload["image"] is None
    assert [(error["code"], error["field"]) for error in payload["userErrors"]] == [(code, ["input", "file"])]
    assert stored_files(api) == []


async def test_an_image_of_8192_pixels_a_side_within_the_pixel_limit_is_accepted(api):
    await build_world(api.engine)
    image = await upload_ok(api, encode(Image.new("L", (8192, 4000)), "PNG"), as_="shop:s1")
    assert (image["width"], image["height"]) == (8192, 4000)


async def test_multipart_requests_run_uploadImage_only(api):
    await build_world(api.engine)
    token = api.token("shop:s1")
    for query in (
        "{ viewer { role } }",
        'mutation { reportTyping(input: {conversationId: "x"}) { userErrors { code } } }',
    ):
        status, body = await post_upload(api.http, token, encode(picture(10, 10), "PNG"), query=query)
        assert status == 400 and body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", body
    # Without a token, nothing is read.
    response = await api.http.post("/graphql", data=multipart(encode(picture(10, 10), "PNG")))
    assert response.status == 401
    # A JSON request has no file to give.
    errors = await api.errors(
        "mutation($f: Upload!) { uploadImage(input: {file: $f}) { image { id } } }", {"f": "abc"}, as_="shop:s1"
    )
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_same_bytes_are_stored_once(api):
    await build_world(api.engine)
    data = jpeg_with_gps()
    first = await upload_ok(api, data, as_="shop:s1")
    second = await upload_ok(api, data, as_="shop:s2")
    assert first["id"] != second["id"]
    assert len(stored_files(api)) == 2  # the image and its thumbnail, once


async def test_uploads_per_hour_are_limited(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, uploads_per_hour=2)
    data = encode(picture(20, 20), "PNG")
    for _ in range(2):
        await upload_ok(api, data, as_="shop:s1")
    payload = await upload(api, data, as_="shop:s1")
    assert [error["code"] for error in payload["userErrors"]] == ["RATE_LIMITED"]
    await upload_ok(api, data, as_="shop:s2")  # per principal


async def test_the_upload_allowance_holds_across_processes(aiohttp_client, database_url, tmp_path, redis_server):
    first = await world_api(aiohttp_client, database_url, tmp_path, uploads_per_hour=2, redis_url=redis_server.url)
    from tests.support.app import client_of, make_settings

    second = await client_of(
        aiohttp_client, make_settings(database_url, tmp_path, uploads_per_hour=2, redis_url=redis_server.url)
    )
    data = encode(picture(20, 20), "PNG")
    await upload_ok(first, data, as_="creator:c1")
    await upload_ok(second, data, as_="creator:c1")
    payload = await upload(first, data, as_="creator:c1")
    assert [error["code"] for error in payload["userErrors"]] == ["RATE_LIMITED"]
