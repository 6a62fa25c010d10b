"""The local multi-node topology (deploy/local_cluster.py) for tests: nginx, three API processes,
PgBouncer, a PostgreSQL primary with its replica and a Redis Cluster, started once per session.

Skipped where nginx, PgBouncer, redis-server or PostgreSQL's binaries are missing, unless
INBOX_REQUIRE_CLUSTER=1 (as in CI), where it fails instead."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import local_cluster
from deploy.local_cluster import Cluster
from tests.support.app import JWT_SECRET

REQUIRE_CLUSTER = os.environ.get("INBOX_REQUIRE_CLUSTER") == "1"
PROGRAMS = ("nginx", "pgbouncer", "redis-server", "redis-cli", "runuser")
# The processes live for the whole session: rate limits (not under test here) must not interfere.
# Webhooks: local receivers allowed, and polling too slow to hide a missing wake-up (NOTIFY) from another process.
API_SETTINGS = {
    "INBOX_JWT_SECRET": JWT_SECRET,
    "INBOX_MUTATION_BURST": "10000",
    "INBOX_QUERY_BURST": "10000",
    "INBOX_WEBHOOK_ALLOW_PRIVATE": "1",
    "INBOX_WEBHOOK_POLL_SECONDS": "60",
}


def missing_programs() -> list[str]:
    missing = [program for program in PROGRAMS if shutil.which(program) is None]
    if not Path("/usr/lib/postgresql").is_dir():
        missing.append("PostgreSQL's binaries")
    return missing


def running_cluster() -> Iterator[Cluster]:
    """Start the topology in a temp dir, yield it, stop it (every process, by pid)."""
    missing = missing_programs()
    if missing:
        message = f"the local cluster needs {', '.join(missing)} (Debian: nginx pgbouncer redis-server)"
        if REQUIRE_CLUSTER:
            pytest.fail(f"{message} (INBOX_REQUIRE_CLUSTER=1)")
        pytest.skip(message)
    directory = Path(tempfile.mkdtemp(prefix="inbox-cluster-"))
    cluster = local_cluster.start(directory, API_SETTINGS)
    try:
        yield cluster
    finally:
        local_cluster.stop(directory)


def lb_base(cluster: Cluster) -> str:
    """The load balancer's origin (http://127.0.0.1:port)."""
    return cluster.url.removesuffix("/graphql")


def api_base(cluster: Cluster, index: int) -> str:
    return cluster.api_url(index).removesuffix("/graphql")
