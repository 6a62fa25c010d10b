"""Fuzzing: operations generated from the schema, valid and invalid, against a running server.

No answer may be a 500 or carry a stack trace, every error has an `extensions.code`, and an
operation that was refused as a whole leaves the database exactly as it was.
"""

import hashlib
import json
import os
import sqlite3
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from hypothesis_graphql import strategies as gql

from services.auth import issue_token
from tests.support.app import JWT_SECRET
from tests.support.processes import ROOT, ServerProcess
from tests.support.world import sqlite_world

SCHEMA = (ROOT / "schema.graphql").read_text()
EXAMPLES = int(os.environ.get("INBOX_FUZZ_EXAMPLES", "60"))
SCALARS = {
    "DateTime": st.sampled_from(["2026-01-01T00:00:00+00:00", "yesterday", ""]).map(nodes.String),
    "Decimal": st.sampled_from(["0.10", "1234.50", "-1", "abc", "1e9"]).map(nodes.String),
    # A file only travels in a multipart request: as a literal it must be refused cleanly.
    "Upload": st.sampled_from(["photo.jpg", ""]).map(nodes.String),
}
SUBJECTS = ("shop:s1", "creator:c1")


@pytest.fixture(scope="module")
def server(tmp_path_factory):

    data_dir = tmp_path_factory.mktemp("fuzz")
    url = sqlite_world(data_dir)
    process = ServerProcess(
        {
            "DATABASE_URL": url,
            "INBOX_JWT_SECRET": JWT_SECRET,
            "INBOX_DATA_DIR": str(data_dir),
            "INBOX_QUERY_BURST": "100000",
            "INBOX_MUTATION_BURST": "100000",
        },
        data_dir / "server.log",
    ).start()
    process.database = data_dir / "inbox.db"
    yield process
    process.stop()


def _fingerprint(path) -> str:
    """A hash of every row of every table."""
    with sqlite3.connect(path) as conn:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()


def _post(server, body: bytes, subject: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{server.url}/graphql",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {issue_token(JWT_SECRET, subject)}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _refused_whole(body: dict) -> bool:
    """Nothing of the operation took effect: no data, or every mutation answered with userErrors."""
    data = body.get("data")
    if data is None:
        return True
    payloads = list(data.values())
    return bool(payloads) and all(isinstance(p, dict) and p.get("userErrors") for p in payloads)


def _check(server, query: str, variables, subject: str) -> None:
    before = _fingerprint(server.database)
    status, text = _post(server, json.dumps({"query": query, "variables": variables}).encode(), subject)
    assert status != 500 and "Traceback" not in text, text
    body = json.loads(text)
    for error in body.get("errors") or ():
        assert error.get("extensions", {}).get("code"), error
    if body.get("errors") and _refused_whole(body) or status >= 400:
        assert _fingerprint(server.database) == before, (query, text)


FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(query=gql.from_schema(SCHEMA, custom_scalars=SCALARS), subject=st.sampled_from(SUBJECTS))
def test_valid_operations(server, query, subject):
    _check(server, query, {}, subject)


@FUZZ
@given(query=gql.from_schema(SCHEMA, custom_scalars=SCALARS, mode=gql.Mode.NEGATIVE), subject=st.sampled_from(SUBJECTS))
def test_invalid_operations(server, query, subject):
    _check(server, query, {}, subject)


@FUZZ
@given(
    query=st.sampled_from(
        [
            "query($f: InboxFolder, $n: Int, $a: String) { conversations(folder: $f, first: $n, "
            "after: $a) { nodes { id } } }",
            "mutation($i: SendMessageInput!) { sendMessage(input: $i) { userErrors { code } } }",
        ]
    ),
    variables=st.dictionaries(
        st.sampled_from(["f", "n", "a", "i"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
        ),
    ),
    subject=st.sampled_from(SUBJECTS),
)
def test_random_variables(server, query, variables, subject):
    _check(server, query, variables, subject)


@FUZZ
@given(body=st.binary(max_size=200), subject=st.sampled_from(SUBJECTS))
def test_arbitrary_bodies(server, body, subject):
    status, text = _post(server, body, subject)
    assert status < 500 and "Traceback" not in text, text
    assert json.loads(text)["errors"][0]["extensions"]["code"]
