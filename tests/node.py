"""Real npm clients for tests: tests/js/ holds their package.json, a pinned package-lock.json and one
script per client; `npm ci` installs them into tests/js/node_modules, again only when the lock file
has changed since."""

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent / "js"
# The lock file's hash, written after a successful `npm ci`.
STAMP = JS / "node_modules" / ".installed-lock-sha256"
REQUIRE_NODE = os.environ.get("INBOX_REQUIRE_NODE") == "1"


def _unavailable(message: str):
    if REQUIRE_NODE:
        pytest.fail(f"Node is required (INBOX_REQUIRE_NODE=1): {message}")
    pytest.skip(f"{message}; npm client tests skipped")


def npm_clients() -> str:
    """The node binary, with tests/js's packages installed as the lock file pins them; skips without
    Node or npm, or when the install fails (fails instead with INBOX_REQUIRE_NODE=1, as in CI)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are not installed (apt-get install -y nodejs npm)")
    lock = hashlib.sha256((JS / "package-lock.json").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != lock:
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], check=False, cwd=JS, capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            _unavailable(f"npm ci in tests/js failed: {done.stderr[-1000:]}")
        STAMP.write_text(lock)
    return node


def run_script(node: str, script: str, *args: str, timeout: float = 60) -> dict:
    """Run tests/js/SCRIPT with ARGS; its standard output is one JSON document."""
    done = subprocess.run([node, str(JS / script), *args], check=False, cwd=JS, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)
