"""Uploads are streamed to disk: ten concurrent uploads of about 10 MB raise a server process's peak
RSS by no more than about 30 MB (held in memory, their bodies alone would take 100 MB)."""

import asyncio
from pathlib import Path

import aiohttp

from tests.support.app import JWT_SECRET
from tests.support.images import noise_jpeg, post_upload
from tests.support.processes import ServerProcess
from tests.support.world import build_world_at

LIMIT_KB = 30 * 1024


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB (/proc/<pid>/status)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


async def test_ten_concurrent_10_mb_uploads_stay_within_30_mb_of_rss(tmp_path):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}"
    env = {"DATABASE_URL": database_url, "INBOX_JWT_SECRET": JWT_SECRET, "INBOX_DATA_DIR": str(tmp_path)}
    server = ServerProcess(env, tmp_path / "server.log").start()
    try:
        await build_world_at(database_url)
        assert server.process is not None
        data = noise_jpeg(10_000_000)
        token = seller_token()
        async with aiohttp.ClientSession() as session:
            url = f"{server.url}/graphql"
            # One upload first: the decoder, its buffers and the database connections are in place.
            status, body = await post_upload(session, token, data, url=url)
            assert status == 200 and body["data"]["uploadImage"]["userErrors"] == [], body
            before = memory_kb(server.process.pid)
            results = await asyncio.gather(
                *(post_upload(session, token, data[:-2] + bytes([n]) + data[-1:], url=url) for n in range(10))
            )
            after = memory_kb(server.process.pid)
        for status, body in results:
            assert status == 200 and body["data"]["uploadImage"]["image"], body
        rise = after["VmHWM"] - before["VmHWM"]
        print(f"RSS, peak RSS before {before} kB, after {after} kB: +{rise / 1024:.1f} MB")
        assert rise <= LIMIT_KB, f"peak RSS rose by {rise / 1024:.1f} MB"
    finally:
        server.stop()


def seller_token() -> str:
    from services.auth import issue_token

    return issue_token(JWT_SECRET, "shop:s1")
