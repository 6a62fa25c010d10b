"""The storage interface's two backends pass the same tests: the local directory and S3 (moto's server)."""

import pytest
import pytest_asyncio

from core.storage import LocalStorage, S3Storage
from tests.support.app import world_api
from tests.support.images import encode, jpeg_with_gps, picture, upload_ok


@pytest_asyncio.fixture(params=["local", "s3"])
async def storage(request, tmp_path):
    if request.param == "local":
        backend: LocalStorage | S3Storage = LocalStorage(tmp_path / "media")
    else:
        bucket = request.getfixturevalue("s3_bucket")
        backend = S3Storage(bucket, request.getfixturevalue("moto_server").url, "us-east-1")
    await backend.start()
    yield backend
    await backend.close()


async def read(storage, key: str) -> bytes | None:
    stored = await storage.get(key)
    if stored is None:
        return None
    data = b"".join([chunk async for chunk in stored.chunks])
    assert len(data) == stored.size
    return data


async def test_put_get_exists_delete(storage, tmp_path):
    source = tmp_path / "source"
    source.write_bytes(b"\x89PNG" + bytes(range(256)) * 2000)  # over one chunk
    key = "ab" * 32
    assert await storage.get(key) is None and not await storage.exists(key)
    await storage.put(key, source)
    assert await storage.exists(key) and await read(storage, key) == source.read_bytes()
    await storage.put(key, source)  # the same key again: the same bytes
    assert await read(storage, key) == source.read_bytes()
    await storage.delete(key)
    await storage.delete(key)  # deleting what is gone is no error
    assert await storage.get(key) is None and not await storage.exists(key)


async def test_local_writes_are_atomic_and_leave_no_temporary_file(tmp_path):
    storage = LocalStorage(tmp_path / "media")
    await storage.start()
    source = tmp_path / "source"
    source.write_bytes(b"x" * 1000)
    await storage.put("cd" * 32, source)
    assert [path.name for path in (tmp_path / "media").rglob("*") if path.is_file()] == ["cd" * 32]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_app_stores_and_serves_images_from_s3(aiohttp_client, database_url, tmp_path, moto_server, s3_bucket):
    api = await world_api(aiohttp_client, database_url, tmp_path, s3_bucket=s3_bucket, s3_endpoint_url=moto_server.url)
    image = await upload_ok(api, jpeg_with_gps(), as_="shop:s1")
    again = await upload_ok(api, jpeg_with_gps(), as_="shop:s2")
    response = await api.http.session.get(image["url"])
    assert response.status == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert len(await response.read()) == image["sizeBytes"]
    assert (await api.http.session.get(again["thumbnailUrl"])).status == 200
    assert not (tmp_path / "media").exists()  # nothing on the local disk
    listed = await api.runtime.storage.client.list_objects_v2(Bucket=s3_bucket)
    assert len(listed["Contents"]) == 2  # the image and its thumbnail, once for both uploads
    small = await upload_ok(api, encode(picture(30, 20), "PNG"), as_="creator:c1")
    assert (await api.http.session.get(small["url"])).status == 200
