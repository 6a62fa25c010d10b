"""The package map in README holds: imports point one way, and a capability has one module name in every layer."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What each package may import of ours (README, "Where the code is").
MAY_IMPORT = {
    "server": {"schema", "resolvers", "services", "core", "models", "subscriptions", "commands", "fastpath"},
    "commands": {"services", "core", "models", "subscriptions"},
    # The speed layer plugs into the plain app from above; nothing below it knows it is there.
    "fastpath": {"schema", "resolvers", "services", "core", "models", "subscriptions"},
    "schema": {"resolvers", "services", "core", "models"},
    "resolvers": {"services", "core", "models"},
    "services": {"core", "models", "subscriptions"},
    "core": {"models", "subscriptions"},
    "models": set(),
    "subscriptions": set(),
    # The topology and its clients run the app as processes; they reuse its ids and tokens.
    "deploy": {"resolvers", "services"},
    # The search migration backfills with the same case fold the app writes (core/text.py).
    "migrations": {"models", "core"},
}
CAPABILITIES = (
    "conversations",
    "messages",
    "inbox",
    "bulk",
    "samples",
    "collaborations",
    "catalog",
    "marketplace",
    "outreach",
    "blocks",
    "search",
    "live",
    "images",
    "webhooks",
)
LAYERS = ("schema", "resolvers", "services", "models")


def _imports(path: Path) -> set[str]:
    """The top-level packages a module imports (absolute imports only: ours never use relative ones
    across packages)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found


def test_dependencies_point_one_way():
    wrong = []
    for package, allowed in MAY_IMPORT.items():
        paths = [ROOT / "server.py"] if package == "server" else sorted((ROOT / package).rglob("*.py"))
        for path in paths:
            for imported in _imports(path) & set(MAY_IMPORT) - {package} - allowed:
                wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert wrong == []


def test_each_capability_has_one_name_across_layers():
    """No layer holds a capability under another name: each module is a capability's, or plumbing listed here."""
    shared = {
        "schema": {
            "build",
            "enums",
            "errors",
            "http_streams",
            "http_transport",
            "inputs",
            "limits",
            "mutation",
            "nodes",
            "observability",
            "payloads",
            "persisted",
            "pipeline",
            "query",
            "relay",
            "scalars",
            "view",
            "websocket",
        },
        "resolvers": {"access", "context", "ids", "loaders", "nodes", "outcomes"},
        "services": {"auth", "content", "events", "loaders", "runtime", "transactions"},
        "models": {"availability", "database", "migrate", "replica", "tables", "types"},
    }
    for layer in LAYERS:
        modules = {path.stem for path in (ROOT / layer).glob("*.py")} - {"__init__"}
        strays = modules - set(CAPABILITIES) - shared[layer]
        assert not strays, f"{layer}/ holds modules that are neither a capability nor listed plumbing: {strays}"
    # Each capability reaches clients through the schema, a resolver and a service of its own name.
    for layer in ("schema", "resolvers", "services"):
        missing = [name for name in CAPABILITIES if not (ROOT / layer / f"{name}.py").exists()]
        assert not missing, f"{layer}/ lacks {missing}"
