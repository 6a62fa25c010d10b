"""Real processes for tests: private redis-server instances and `python server.py` servers."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check, what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet, whatever the error
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not become ready in {seconds} s")
        time.sleep(0.05)


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
            ["redis-server", *f"--port {self.port} --bind 127.0.0.1 --appendonly no --daemonize no".split(),
             "--save", "", "--dir", self.workdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            _wait(client.ping, "redis-server", 5)
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(TIMEOUT)


class ServerProcess:
    """`python server.py serve --no-demo` (or another command) and ARGS in a subprocess, with the given environment."""

    def __init__(self, env: dict[str, str], log_path: Path, args: tuple[str, ...] = (),
                 command: tuple[str, ...] = ("serve", "--no-demo")) -> None:
        self.port = free_port()
        self.args = args
        # No metrics listener unless `env` asks for one (servers of several tests run side by side).
        self.env = {**os.environ, "INBOX_METRICS_PORT": "0", **env, "INBOX_PORT": str(self.port),
                    "INBOX_HOST": "127.0.0.1"}
        self.log_path = log_path
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServerProcess":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "server.py", *self.command, *self.args], cwd=ROOT,
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT)

        def healthy() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True

        _wait(healthy, f"server on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(TIMEOUT)


class PostgresServer:
    """A private PostgreSQL cluster (initdb in a temp dir, run as the postgres user) to stop and start."""

    def __init__(self) -> None:
        # Not under pytest's tmp_path: that is private to root, and the cluster runs as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="inbox-pg-"))
        self.root.chmod(0o755)
        self.datadir = self.root / "data"
        self.port = free_port()
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / args[0]), *args[1:]], check=True,
                       cwd=self.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def init(self) -> "PostgresServer":
        self.datadir.mkdir()
        subprocess.run(["chown", "postgres", str(self.datadir)], check=True)
        self._run("initdb", "-D", str(self.datadir), "-A", "trust", "-U", "postgres")
        return self.start()

    def start(self) -> "PostgresServer":
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.datadir), "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
