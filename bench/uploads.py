"""Images: upload throughput and latency for 1 MB JPEGs (decoding, re-encoding and the thumbnail
included), and the throughput of signed media GETs (`python -m bench run --only uploads`).

One API process on an embedded SQLite database in a temporary directory (the demo seeded into it),
local storage. Uploads are real GraphQL multipart requests from aiohttp, at 1 and 8 at a time; media
GETs are wrk against one signed link (a thumbnail and a full image), 32 connections.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
from PIL import Image

from bench import servers

UPLOAD = """mutation($input: UploadImageInput!) {
  uploadImage(input: $input) { image { url thumbnailUrl } userErrors { code } }
}"""
UPLOADS_PER_POINT = 120
CONCURRENCY = (1, 8)
GET_SECONDS = 10


def jpeg_of_about(size: int, seed: int) -> bytes:
    """A JPEG of noise of about `size` bytes (about 1.1 bytes a pixel at quality 95)."""
    rng = random.Random(seed)
    side = int((size / 1.1) ** 0.5)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _form(data: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("operations", json.dumps({"query": UPLOAD, "variables": {"input": {"file": None}}}))
    form.add_field("map", json.dumps({"0": ["variables.input.file"]}))
    form.add_field("0", data, filename="photo.jpg", content_type="image/jpeg")
    return form


async def _uploads(url: str, token: str, files: list[bytes], concurrency: int) -> dict:
    latencies: list[float] = []
    links: dict = {}
    queue = list(range(UPLOADS_PER_POINT))

    async def worker(session: aiohttp.ClientSession) -> None:
        while queue:
            n = queue.pop()
            started = time.perf_counter()
            async with session.post(
                url, data=_form(files[n % len(files)]), headers={"Authorization": f"Bearer {token}"}
            ) as response:
                body = await response.json()
            latencies.append(time.perf_counter() - started)
            payload = body["data"]["uploadImage"]
            assert payload["userErrors"] == [], payload
            links.update(payload["image"])

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "concurrency": concurrency,
        "uploads": len(latencies),
        "uploads_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
        "links": links,
    }


def _wrk(url: str) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{GET_SECONDS}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    return {"requests_per_s": rate, "transfer_per_s": "".join(transfer.groups()), "p99": "".join(p99.groups())}


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as workdir, servers.Processes() as procs:
        database_url = f"sqlite+aiosqlite:///{workdir}/inbox.db"
        env = servers.api_env(database_url, 0) | {"INBOX_DATA_DIR": workdir}
        subprocess.run([servers.PYTHON, "server.py", "seed-demo"], cwd=servers.REPO, env=env, check=True)
        server = servers.api_server("api-uploads", database_url, _free_port())
        server.env.update(INBOX_DATA_DIR=workdir, INBOX_UPLOADS_PER_HOUR="1000000")
        procs.start(server)
        token = servers.token("shop:s1", database_url)
        files = [jpeg_of_about(1_000_000, seed) for seed in range(20)]
        print(f"[uploads] {len(files)} JPEGs of about {statistics.mean(map(len, files)) / 1e6:.2f} MB each")
        points = [asyncio.run(_uploads(server.url, token, files, concurrency)) for concurrency in CONCURRENCY]
        links = points[-1].pop("links")
        points[0].pop("links")
        gets = {"thumbnail": _wrk(links["thumbnailUrl"]), "image": _wrk(links["url"])}
        result = {"uploads": points, "media_get": gets, "server_peak_rss_mb": round(_peak_rss_mb(server.pid), 1)}
    print(json.dumps(result, indent=2))
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
