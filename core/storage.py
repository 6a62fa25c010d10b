"""Where uploaded images' bytes live: a small interface with two backends.

- `LocalStorage`, the embedded default: files under `$INBOX_DATA_DIR/media`, each written to a
  temporary file in its own directory and renamed into place (a rename is atomic), so a reader never
  sees half an object.
- `S3Storage`, for deployments of several machines: an S3-compatible bucket through aiobotocore (a
  PUT is atomic by itself). Credentials come from botocore's usual environment (`AWS_ACCESS_KEY_ID`,
  `AWS_SECRET_ACCESS_KEY`, ...).

Keys are content hashes (services/images.py), so an object is never changed once written: writing a
key that exists writes the same bytes again.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.config import Settings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

CHUNK = 256 * 1024


@dataclass(frozen=True)
class StoredObject:
    """An object being read: its size and its bytes, chunk by chunk (read them once)."""

    size: int
    chunks: AsyncGenerator[bytes, None]


class Storage(Protocol):
    async def start(self) -> None: ...
    async def put(self, key: str, path: Path) -> None:
        """Store the file at `path` under `key`, atomically."""

    async def exists(self, key: str) -> bool: ...
    async def get(self, key: str) -> StoredObject | None:
        """The object, or None if there is none under `key`."""

    async def delete(self, key: str) -> None:
        """Remove the object; nothing happens if there is none."""

    async def close(self) -> None: ...


class LocalStorage:
    """Objects as files under `root`, spread over 256 directories by the key's first two characters."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    async def start(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def put(self, key: str, path: Path) -> None:
        await asyncio.to_thread(self._put, key, path)

    def _put(self, key: str, path: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # In the target's directory, so the rename stays on one file system (and is atomic).
        temporary = target.with_name(f".{key}.{uuid.uuid4().hex}.tmp")
        try:
            with path.open("rb") as source, temporary.open("wb") as sink:
                while chunk := source.read(CHUNK):
                    sink.write(chunk)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).exists)

    async def get(self, key: str) -> StoredObject | None:
        try:
            handle = await asyncio.to_thread(self._path(key).open, "rb")
        except FileNotFoundError:
            return None
        return StoredObject(os.fstat(handle.fileno()).st_size, _file_chunks(handle))

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def close(self) -> None:
        return None


async def _file_chunks(handle: Any) -> AsyncGenerator[bytes, None]:
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk
    finally:
        handle.close()


class S3Storage:
    """Objects in one bucket of an S3-compatible store; one client per process."""

    def __init__(self, bucket: str, endpoint_url: str | None, region: str) -> None:
        self.bucket = bucket
        self._endpoint_url, self._region = endpoint_url, region
        self._stack = AsyncExitStack()
        self._client: S3Client | None = None

    @property
    def client(self) -> "S3Client":
        assert self._client is not None, "started with the app (server.py lifetime)"
        return self._client

    async def start(self) -> None:
        from aiobotocore.session import get_session

        self._client = await self._stack.enter_async_context(
            get_session().create_client("s3", endpoint_url=self._endpoint_url, region_name=self._region)
        )

    async def put(self, key: str, path: Path) -> None:
        # At most 10 MiB (services/images.py), read whole: botocore signs and checksums the body it is given.
        body = await asyncio.to_thread(path.read_bytes)
        await self.client.put_object(Bucket=self.bucket, Key=key, Body=body)

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    async def get(self, key: str) -> StoredObject | None:
        try:
            answer = await self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        return StoredObject(answer["ContentLength"], _body_chunks(answer["Body"]))

    async def delete(self, key: str) -> None:
        await self.client.delete_object(Bucket=self.bucket, Key=key)

    async def close(self) -> None:
        await self._stack.aclose()


async def _body_chunks(body: Any) -> AsyncGenerator[bytes, None]:
    async with body:
        async for chunk in body.iter_chunks(CHUNK):
            yield chunk


def create_storage(settings: Settings) -> LocalStorage | S3Storage:
    """S3 when INBOX_S3_BUCKET is set, else the data directory's `media`."""
    if settings.s3_bucket:
        return S3Storage(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region)
    return LocalStorage(Path(settings.data_dir) / "media")
