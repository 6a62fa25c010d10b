"""graphql-http's audit suite (npm `graphql-http`, the GraphQL over HTTP spec's checks) against a real
server process: every MUST and SHOULD audit passes. The MAY ones are reported, not required."""

import pytest

from services.auth import issue_token
from tests.support.app import JWT_SECRET
from tests.support.node import run_script
from tests.support.processes import ServerProcess


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """`python server.py` on SQLite with the demo seeded, and a token of the demo seller."""
    data = tmp_path_factory.mktemp("graphql-http-audit")
    env = {
        "INBOX_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'inbox.db'}",
        "INBOX_JWT_SECRET": JWT_SECRET,
        "REDIS_URL": "",
        "INBOX_ENV": "development",
    }
    server = ServerProcess(env, data / "server.log", command=("serve",)).start()
    try:
        yield server, issue_token(JWT_SECRET, "shop:s1")
    finally:
        server.stop()


@pytest.mark.usefixtures("js_packages")
def test_every_must_and_should_audit_passes(demo_server):
    server, token = demo_server
    results = run_script("graphql-http-audit.mjs", f"{server.url}/graphql", token)
    assert len(results) > 50, results  # the suite ran (61 audits in graphql-http 1.23)
    required = [result for result in results if result["name"].startswith(("MUST", "SHOULD"))]
    failed = [
        f"{result['id']} {result['name']}: {result.get('reason')} (HTTP {result.get('httpStatus')}, "
        f"{result.get('contentType')}: {result.get('body')})"
        for result in required
        if result["status"] != "ok"
    ]
    assert not failed, "\n".join(failed)
