"""Node and the npm packages of tests/js, for tests that run JavaScript clients against a real server.

`npm ci` installs the exact versions of tests/js/package-lock.json into tests/js/node_modules, once per
session (the `js_packages` fixture). Without node or npm, or when the install fails, those tests are
skipped, unless INBOX_REQUIRE_NODE=1 (as in CI), where they fail instead.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

JS_DIR = Path(__file__).resolve().parent.parent / "js"
REQUIRE_NODE = os.environ.get("INBOX_REQUIRE_NODE") == "1"


def _unavailable(message: str):
    if REQUIRE_NODE:
        pytest.fail(f"Node is required (INBOX_REQUIRE_NODE=1): {message}")
    pytest.skip(f"{message}; JavaScript client tests skipped")


def install_js_packages() -> Path:
    """tests/js with its packages installed (`npm ci`); the `js_packages` fixture, once per session."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        _unavailable("node or npm is not installed (apt-get install -y nodejs npm)")
    try:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        _unavailable(f"npm ci in {JS_DIR} failed: {(error.stderr or b'').decode()[-1000:]}")
    return JS_DIR


def run_script(script: str, *args: str, timeout: float = 120) -> object:
    """Run tests/js/SCRIPT with node and ARGS; its standard output, parsed as JSON."""
    done = subprocess.run(["node", str(JS_DIR / script), *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"node {script} exited with {done.returncode}: {done.stderr[-2000:]}"
    return json.loads(done.stdout)
