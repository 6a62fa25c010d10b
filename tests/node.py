"""Node and the npm clients pinned in tests/js/ (package-lock.json), for tests that drive real JavaScript
clients. Without node or npm they skip, unless INBOX_REQUIRE_NODE=1 (as in CI), where they fail."""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.processes import ROOT

JS_DIR = ROOT / "tests" / "js"
REQUIRE_NODE = os.environ.get("INBOX_REQUIRE_NODE") == "1"
_STAMP = JS_DIR / "node_modules" / ".installed-lock-sha256"


def _unavailable(reason: str) -> None:
    if REQUIRE_NODE:
        pytest.fail(f"{reason} (INBOX_REQUIRE_NODE=1)")
    pytest.skip(f"{reason}; tests of JavaScript clients skipped")


def install_clients() -> Path:
    """tests/js, after `npm ci` into its node_modules unless that already holds what package-lock.json pins."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        _unavailable("node and npm are not on PATH")
    lock = hashlib.sha256((JS_DIR / "package-lock.json").read_bytes()).hexdigest()
    if _STAMP.exists() and _STAMP.read_text() == lock:
        return JS_DIR
    result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True,
                            timeout=300, check=False)
    if result.returncode != 0:
        _unavailable(f"npm ci failed in {JS_DIR}: {result.stderr.strip()[-2000:]}")
    _STAMP.write_text(lock)
    return JS_DIR
