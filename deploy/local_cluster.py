"""A multi-node topology on one machine, from Debian's packages, all on loopback with free ports:

    nginx (load balancer: WebSocket upgrade, SSE unbuffered, round robin, no sticky sessions)
      -> 3 API processes (`python server.py serve`)
           -> PgBouncer (transaction pooling) -> PostgreSQL primary (initdb) -> streaming replica (pg_basebackup -R)
           -> Redis Cluster, 3 masters + 3 replicas (sharded pub/sub, rate limits, typing, persisted queries)

`python -m deploy.local_cluster start [--dir D]` starts it and prints its addresses (and writes them to
D/cluster.json); `stop [--dir D]` stops every process by its pid and removes D. docs/deployment.md
describes the topology, its settings and its failures. PostgreSQL and PgBouncer refuse to run as
root: as root, they run as the `postgres` user (`runuser`).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = Path(os.environ.get("INBOX_CLUSTER_DIR", "/tmp/inbox-local-cluster"))
API_PROCESSES = 3
REDIS_NODES = 6  # 3 masters, each with a replica
DATABASE = "inbox"
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class Cluster:
    """Where everything listens and which pid each process has; saved as `<dir>/cluster.json`."""

    dir: str
    jwt_secret: str
    lb_port: int
    api_ports: list[int]
    primary_port: int
    replica_port: int
    pgbouncer_port: int
    redis_ports: list[int]
    redis_bus_ports: list[int]
    env: dict[str, str] = field(default_factory=dict)  # more settings for the API processes
    api_pids: list[int] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return Path(self.dir)

    @property
    def url(self) -> str:
        """The load balancer's GraphQL endpoint: what clients use."""
        return f"http://127.0.0.1:{self.lb_port}/graphql"

    def api_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.api_ports[index]}/graphql"

    def primary_dsn(self, driver: str = "postgresql") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.primary_port}/{DATABASE}"

    def replica_dsn(self, driver: str = "postgresql") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.replica_port}/{DATABASE}"

    def api_env(self, port: int) -> dict[str, str]:
        """An API process's environment: the primary through PgBouncer, the replica, the Redis Cluster."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
        env.update(
            DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:{self.pgbouncer_port}/{DATABASE}",
            INBOX_DB_POOLER="pgbouncer",
            INBOX_DATABASE_LISTEN_URL=self.primary_dsn(),
            INBOX_DATABASE_REPLICA_URL=self.replica_dsn(
                "postgresql+asyncpg"
            ),  # its own endpoint, as a managed replica's
            REDIS_URL=f"redis://127.0.0.1:{self.redis_ports[0]}",
            INBOX_REDIS_CLUSTER="on",
            INBOX_JWT_SECRET=self.jwt_secret,
            INBOX_HOST="127.0.0.1",
            INBOX_PORT=str(port),
            INBOX_METRICS_PORT="0",
            INBOX_DATA_DIR=str(self.path / f"api-{port}"),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env)
        return env

    def save(self) -> None:
        (self.path / "cluster.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: Path) -> Cluster:
        return cls(**json.loads((directory / "cluster.json").read_text()))


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free right now (all held open until chosen, so none repeats)."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def wait_for(check: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    """Until `check()` is true (an exception counts as not yet); TimeoutError after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet, whatever the error
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready within {seconds:.0f} s")
        time.sleep(0.1)


def _run(argv: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, **options)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {done.returncode}: {(done.stderr or done.stdout)[-2000:]}")
    return done


def _postgres_bin() -> Path:
    found = sorted(p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists())
    if not found:
        raise FileNotFoundError("PostgreSQL's binaries (initdb) not found under /usr/lib/postgresql/*/bin")
    return found[-1]


def _pg(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return _run([*AS_POSTGRES, str(_postgres_bin() / tool), *args])


def _owned_by_postgres(path: Path, mode: int = 0o755) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    if AS_POSTGRES:
        shutil.chown(path, "postgres", "postgres")
    return path


def listening(port: int) -> bool:
    """Whether something accepts connections on the port (raises OSError if not)."""
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


# --- PostgreSQL: a primary and its streaming replica --------------------------------------------


def start_primary(cluster: Cluster) -> None:
    data = _owned_by_postgres(cluster.path / "pg-primary", 0o700)
    run = _owned_by_postgres(cluster.path / "pg-run")  # sockets and logs: not in a data directory, which is copied
    _pg("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(
            f"port = {cluster.primary_port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{run}'\n"
            "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\nmax_connections = 200\n"
            "fsync = off\n"  # a topology for tests on one machine: a crash of the machine loses it anyway
        )
    start_postgres(data)
    psql(cluster.primary_port, "postgres", f"CREATE DATABASE {DATABASE}")
    # Behind PgBouncer the API sends no startup settings (PgBouncer 1.18 refuses them): the database has them.
    psql(cluster.primary_port, "postgres", f"ALTER DATABASE {DATABASE} SET jit = off")


def start_replica(cluster: Cluster) -> None:
    data = _owned_by_postgres(cluster.path / "pg-replica", 0o700)
    primary = ["-h", "127.0.0.1", "-p", str(cluster.primary_port), "-U", "postgres"]
    _pg("pg_basebackup", *primary, "-D", str(data), "-R", "--checkpoint=fast")
    with open(data / "postgresql.conf", "a") as conf:  # the copy's own port (a later line wins)
        conf.write(f"port = {cluster.replica_port}\n")
    start_postgres(data)


def start_postgres(data: Path) -> None:
    log = data.parent / "pg-run" / f"{data.name}.log"
    _pg("pg_ctl", "-D", str(data), "-l", str(log), "-w", "start")


def stop_postgres(data: Path) -> None:
    if (data / "postmaster.pid").exists():
        _pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")


def psql(port: int, database: str, sql: str) -> str:
    return _run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database, "-Atc", sql]).stdout


def migrate(cluster: Cluster) -> None:
    """Migrations run on the primary itself: Alembic holds a session, which PgBouncer's transactions do not."""
    env = {**cluster.api_env(0), "DATABASE_URL": cluster.primary_dsn("postgresql+asyncpg")}
    env.pop("INBOX_DB_POOLER")
    _run([sys.executable, "server.py", "migrate"], cwd=ROOT, env=env)


# --- PgBouncer ----------------------------------------------------------------------------------


def start_pgbouncer(cluster: Cluster) -> None:
    run_pgbouncer(cluster.path / "pgbouncer", cluster.pgbouncer_port, {DATABASE: cluster.primary_port})


def run_pgbouncer(home: Path, port: int, databases: dict[str, int]) -> None:
    """PgBouncer in transaction mode on `port`, its files in `home`, for each database on 127.0.0.1 at the
    port given (the bench puts one in front of the machine's own PostgreSQL too)."""
    _owned_by_postgres(home)
    (home / "userlist.txt").write_text('"postgres" ""\n')
    entries = "\n".join(f"{name} = host=127.0.0.1 port={server} dbname={name}" for name, server in databases.items())
    (home / "pgbouncer.ini").write_text(
        f"""[databases]
{entries}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {home}/userlist.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 40
logfile = {home}/pgbouncer.log
pidfile = {home}/pgbouncer.pid
"""
    )
    _run([*AS_POSTGRES, "pgbouncer", "-d", str(home / "pgbouncer.ini")])
    wait_for(lambda: listening(port), "PgBouncer")


def pgbouncer_pid(home: Path) -> int:
    return int((home / "pgbouncer.pid").read_text().split()[0])


def stop_pgbouncer(cluster: Cluster) -> None:
    stop_pgbouncer_in(cluster.path / "pgbouncer")


def stop_pgbouncer_in(home: Path) -> None:
    _kill_pidfile(home / "pgbouncer.pid")


def restart_pgbouncer(cluster: Cluster) -> None:
    """Stop PgBouncer (every client connection through it is cut) and start it again."""
    stop_pgbouncer(cluster)
    wait_for(lambda: not (cluster.path / "pgbouncer" / "pgbouncer.pid").exists(), "PgBouncer's exit", 10)
    start_pgbouncer(cluster)


# --- Redis Cluster ------------------------------------------------------------------------------


def _redis_dir(cluster: Cluster, port: int) -> Path:
    return cluster.path / f"redis-{port}"


def start_redis_node(cluster: Cluster, port: int) -> None:
    home = _redis_dir(cluster, port)
    home.mkdir(exist_ok=True)
    options = {
        "port": port,
        "bind": "127.0.0.1",
        "dir": home,
        "cluster-enabled": "yes",
        # The bus's own port: by default the node's port + 10,000, which may be taken or past 65,535.
        "cluster-port": cluster.redis_bus_ports[cluster.redis_ports.index(port)],
        "cluster-config-file": home / "nodes.conf",
        "cluster-node-timeout": 2000,  # a dead master is replaced within seconds
        "save": "",
        "appendonly": "no",
        "daemonize": "yes",
        "pidfile": home / "redis.pid",
        "logfile": home / "redis.log",
    }
    _run(["redis-server", *(part for name, value in options.items() for part in (f"--{name}", str(value)))])
    wait_for(lambda: listening(port), f"redis-server on {port}")


def start_redis_cluster(cluster: Cluster) -> None:
    for port in cluster.redis_ports:
        start_redis_node(cluster, port)
    nodes = [f"127.0.0.1:{port}" for port in cluster.redis_ports]
    _run(["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "1", "--cluster-yes"])
    wait_for(lambda: all(_cluster_ok(port) for port in cluster.redis_ports), "the Redis Cluster")


def _cluster_ok(port: int) -> bool:
    return "cluster_state:ok" in _run(["redis-cli", "-p", str(port), "cluster", "info"]).stdout


def _nodes(cluster: Cluster) -> list[tuple[str, int, str, str]]:
    """(id, port, flags, master's id or "-") of each node, as CLUSTER NODES tells them."""
    lines = _run(["redis-cli", "-p", str(cluster.redis_ports[0]), "cluster", "nodes"]).stdout.splitlines()
    fields = [line.split() for line in lines]
    return [(f[0], int(f[1].split("@")[0].rsplit(":", 1)[1]), f[2], f[3]) for f in fields]


def redis_masters(cluster: Cluster) -> list[int]:
    """The ports of the cluster's masters now (not those failing)."""
    return sorted(port for _, port, flags, _ in _nodes(cluster) if "master" in flags and "fail" not in flags)


def master_of(cluster: Cluster, channel: str) -> int:
    """The port of the master that holds a key's (or a sharded channel's) slot now."""
    seed = str(cluster.redis_ports[0])
    slot = int(_run(["redis-cli", "-p", seed, "cluster", "keyslot", channel]).stdout)
    for line in _run(["redis-cli", "-p", seed, "cluster", "nodes"]).stdout.splitlines():
        (
            node,
            address,
            flags,
            *_,
        ) = line.split()[:3]
        for held in line.split()[8:]:  # "0-5460" or "5461": the slots a master holds
            first, _, last = held.partition("-")
            if "master" in flags and "fail" not in flags and int(first) <= slot <= int(last or first):
                return int(address.split("@")[0].rsplit(":", 1)[1])
    raise LookupError(f"no master holds slot {slot}")


def fail_over_redis_master(cluster: Cluster, port: int) -> None:
    """Kill a master (SIGKILL: no goodbye to the cluster) and wait until its replica took over; then
    start it again and wait until it rejoined as the new master's replica."""
    nodes = _nodes(cluster)
    (master_id,) = [node_id for node_id, node_port, _, _ in nodes if node_port == port]
    (replica,) = [node_port for _, node_port, _, of in nodes if of == master_id]
    home = _redis_dir(cluster, port)
    os.kill(int((home / "redis.pid").read_text()), signal.SIGKILL)
    (home / "redis.pid").unlink(missing_ok=True)
    wait_for(lambda: _role(replica) == "master" and _cluster_ok(replica), "the replica's promotion")
    start_redis_node(cluster, port)
    wait_for(lambda: _role(port) == "slave", f"redis-server on {port} to rejoin as a replica")
    wait_for(lambda: all(_cluster_ok(p) for p in cluster.redis_ports), "the Redis Cluster")


def _role(port: int) -> str:
    return _run(["redis-cli", "-p", str(port), "role"]).stdout.split()[0]


def stop_redis_cluster(cluster: Cluster) -> None:
    for port in cluster.redis_ports:
        _kill_pidfile(_redis_dir(cluster, port) / "redis.pid")


# --- the API processes --------------------------------------------------------------------------


def start_api(cluster: Cluster, index: int) -> int:
    """Start API process `index` (`python server.py serve --no-demo`); its pid, once it is ready."""
    port = cluster.api_ports[index]
    log = open(cluster.path / f"api-{port}.log", "ab")  # noqa: SIM115 - the child holds it
    process = subprocess.Popen(
        [sys.executable, "server.py", "serve", "--no-demo"],
        cwd=ROOT,
        env=cluster.api_env(port),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # not stopped by a Ctrl-C meant for `start`
    )
    log.close()

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"API process on {port} exited: see {cluster.path}/api-{port}.log")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return response.status == 200

    wait_for(ready, f"API process on {port}", 60)
    while len(cluster.api_pids) <= index:
        cluster.api_pids.append(0)
    cluster.api_pids[index] = process.pid
    cluster.save()
    return process.pid


def kill_api(cluster: Cluster, index: int) -> None:
    """SIGKILL API process `index`: its sockets drop at once, as when a machine dies."""
    _kill(cluster.api_pids[index], signal.SIGKILL)


def stop_api(cluster: Cluster, index: int) -> None:
    _kill(cluster.api_pids[index], signal.SIGTERM, wait=15)


# --- nginx --------------------------------------------------------------------------------------


UNAVAILABLE_BODY = json.dumps(
    {"errors": [{"message": "Unavailable for a moment; retry shortly.", "extensions": {"code": "SERVICE_UNAVAILABLE"}}]}
)


def start_nginx(cluster: Cluster) -> None:
    home = cluster.path / "nginx"
    (home / "tmp").mkdir(parents=True)
    upstreams = "\n".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in cluster.api_ports)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers would otherwise run as nobody
    (home / "nginx.conf").write_text(
        f"""{user}worker_processes 1;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  client_body_temp_path {home}/tmp/body;
  proxy_temp_path {home}/tmp/proxy;
  fastcgi_temp_path {home}/tmp/fastcgi;
  uwsgi_temp_path {home}/tmp/uwsgi;
  scgi_temp_path {home}/tmp/scgi;
  upstream api {{
{upstreams}
    keepalive 64;
  }}
  # An upgrade passes Upgrade and Connection on; any other request keeps the upstream connection alive.
  map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
  server {{
    listen 127.0.0.1:{cluster.lb_port};
    client_max_body_size 20m;
    location / {{
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;  # server-sent events go out as they are written
      proxy_request_buffering off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      # A refused connection (a dead process) is tried on the next one; a request that reached a
      # process is never sent twice (a POST is not idempotent).
      proxy_next_upstream error timeout;
      error_page 502 504 = @unavailable;
    }}
    # A process that died with the request: the GraphQL error a client retries on, never a bare 502.
    location @unavailable {{
      default_type application/json;
      add_header Retry-After 1 always;
      return 503 '{UNAVAILABLE_BODY}';
    }}
  }}
}}
"""
    )
    _run(["nginx", "-c", str(home / "nginx.conf"), "-p", str(home)])
    wait_for(lambda: listening(cluster.lb_port), "nginx")


def stop_nginx(cluster: Cluster) -> None:
    _kill_pidfile(cluster.path / "nginx" / "nginx.pid")


# --- start and stop -----------------------------------------------------------------------------


def _kill(pid: int, sig: int, wait: float = 10) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline += wait
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Whether the process still runs (a zombie does not: our own child is reaped here)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _kill_pidfile(path: Path) -> None:
    try:
        pid = int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return
    _kill(pid, signal.SIGTERM)


def start(directory: Path = DEFAULT_DIR, env: dict[str, str] | None = None) -> Cluster:
    """Start the whole topology in `directory` (absent or empty), the API processes with the settings
    in `env` besides the environment's own."""
    if directory.exists() and any(directory.iterdir()):
        raise SystemExit(f"{directory} is not empty (a cluster, or one that failed to start): stop --dir {directory}")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)  # PostgreSQL and PgBouncer run as postgres inside it
    ports = free_ports(4 + API_PROCESSES + 2 * REDIS_NODES)
    cluster = Cluster(
        dir=str(directory),
        jwt_secret=os.environ.get("INBOX_JWT_SECRET") or secrets.token_hex(32),
        lb_port=ports[0],
        primary_port=ports[1],
        replica_port=ports[2],
        pgbouncer_port=ports[3],
        api_ports=ports[4 : 4 + API_PROCESSES],
        redis_ports=ports[4 + API_PROCESSES : 4 + API_PROCESSES + REDIS_NODES],
        redis_bus_ports=ports[4 + API_PROCESSES + REDIS_NODES :],
        env=env or {},
    )
    cluster.save()
    try:
        start_primary(cluster)
        migrate(cluster)
        start_replica(cluster)
        start_pgbouncer(cluster)
        start_redis_cluster(cluster)
        for index in range(API_PROCESSES):
            start_api(cluster, index)
        start_nginx(cluster)
    except BaseException:
        stop(directory, remove=False)
        print(f"start failed; the logs are in {directory} (stop --dir {directory} removes it)", file=sys.stderr)
        raise
    return cluster


def stop(directory: Path = DEFAULT_DIR, remove: bool = True) -> None:
    """Stop every process of the topology in `directory`, front to back, and remove the directory."""
    try:
        cluster = Cluster.load(directory)
    except FileNotFoundError:
        return
    stop_nginx(cluster)
    for index in range(len(cluster.api_pids)):
        stop_api(cluster, index)
    stop_pgbouncer(cluster)
    stop_redis_cluster(cluster)
    stop_postgres(cluster.path / "pg-replica")
    stop_postgres(cluster.path / "pg-primary")
    if remove:
        shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="deploy/local-cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"where it runs (default {DEFAULT_DIR})")
    args = parser.parse_args(argv)
    if args.action == "start":
        began = time.monotonic()
        cluster = start(args.dir)
        print(f"started in {time.monotonic() - began:.1f} s; load balancer: {cluster.url}")
        print(json.dumps(asdict(cluster), indent=2))
    elif args.action == "stop":
        stop(args.dir)
        print(f"stopped; {args.dir} removed")
    else:
        print((args.dir / "cluster.json").read_text() if (args.dir / "cluster.json").exists() else "not running")


if __name__ == "__main__":
    main()
