"""Real processes for tests: private redis-server and PostgreSQL instances, `python server.py` servers,
and a TCP proxy to cut one process off its database."""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp
import redis

from deploy.local_cluster import wait_for
from services.auth import issue_token
from tests.support.app import JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_listening(
    argv: list[str], log_path: Path, port: int, what: str, seconds: float = 15.0, **options
) -> subprocess.Popen[bytes]:
    """A subprocess logging to `log_path`, once it accepts connections on `port`."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **options)

    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log_path.read_text()[-2000:]}")
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True

    wait_for(listening, f"{what} on port {port}", seconds)
    return process


class RedisServer:
    """A redis-server subprocess on a free port, without persistence (the shared 6379 is left alone)."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                *f"--port {self.port} --bind 127.0.0.1 --appendonly no --daemonize no".split(),
                "--save",
                "",
                "--dir",
                self.workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            wait_for(client.ping, "redis-server", 5)
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(TIMEOUT)


class ServerProcess:
    """`python server.py serve --no-demo` (or another command) and ARGS in a subprocess, with the given environment."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        args: tuple[str, ...] = (),
        command: tuple[str, ...] = ("serve", "--no-demo"),
    ) -> None:
        self.port = free_port()
        self.args = args
        # No metrics listener unless `env` asks for one (servers of several tests run side by side).
        self.env = {
            **os.environ,
            "INBOX_METRICS_PORT": "0",
            **env,
            "INBOX_PORT": str(self.port),
            "INBOX_HOST": "127.0.0.1",
        }
        self.log_path = log_path
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServerProcess":
        self.process = start_listening(
            [sys.executable, "server.py", *self.command, *self.args],
            self.log_path,
            self.port,
            "server",
            cwd=ROOT,
            env=self.env,
        )
        return self

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen | None) -> None:
    """Terminate a child process, killing it if it has not ended within 10 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(TIMEOUT)


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory (initdb, pg_ctl), or None."""
    found = sorted(path for path in Path("/usr/lib/postgresql").glob("*/bin") if (path / "initdb").exists())
    return found[-1] if found else None


class PostgresServer:
    """A private PostgreSQL cluster (initdb in a temp dir, run as the postgres user) to stop and start.

    PostgreSQL refuses to run as root, and tests run as root here: so the data directory belongs
    to `postgres` and initdb and pg_ctl run as that user (`runuser`)."""

    def __init__(self) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise FileNotFoundError("initdb not found under /usr/lib/postgresql/*/bin")
        self.bin = bin_dir
        # Not under pytest's tmp_path: that is private to root, and the cluster runs as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="inbox-pg-"))
        self.root.chmod(0o755)
        self.datadir = self.root / "data"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / args[0]), *args[1:]],
            check=True,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def init(self, *settings: str) -> "PostgresServer":
        self.datadir.mkdir()
        subprocess.run(["chown", "postgres", str(self.datadir)], check=True)
        self._run("initdb", "-D", str(self.datadir), "-A", "trust", "-U", "postgres")
        return self.start(*settings)

    def start(self, *settings: str) -> "PostgresServer":
        """Start and wait until it accepts connections; `settings` as "name=value" server settings."""
        options = " ".join(
            [
                f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off",
                *(f"-c {setting}" for setting in settings),
            ]
        )
        self._run("pg_ctl", "-D", str(self.datadir), "-o", options, "-w", "start")
        return self

    def stop(self, mode: str = "immediate") -> None:
        """`pg_ctl stop -m fast` (backends terminated, clean shutdown) or `-m immediate` (a crash)."""
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class TcpProxy:
    """A TCP forwarder to a port, cut at will: `cut()` closes its listener and every connection
    through it, as a network failure between one server process and its database would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> "TcpProxy":
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        return self

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, upstream_writer}
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def cut(self) -> None:
        assert self._server is not None, "started"
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


async def post_mutation(
    session: aiohttp.ClientSession, server: "ServerProcess", document: str, variables: dict, subject: str
) -> dict:
    """The payload of a mutation sent to a server process as `subject`, asserted free of errors."""
    async with session.post(
        f"{server.url}/graphql",
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {issue_token(JWT_SECRET, subject)}"},
    ) as response:
        body = await response.json()
    assert response.status == 200 and "errors" not in body, body
    (payload,) = body["data"].values()
    assert payload["userErrors"] == [], payload
    return payload


class MotoServer:
    """moto's S3 in server mode (`moto_server`, from the test extra) on a free port: the S3 storage
    backend's tests talk to it over HTTP as to any S3-compatible store. Failing to start fails the test."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoServer":
        executable = Path(sys.executable).with_name("moto_server")
        argv = [str(executable), "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = start_listening(argv, self.log_path, self.port, "moto_server", seconds=30)
        return self

    def stop(self) -> None:
        stop_process(self.process)
