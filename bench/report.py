"""The one table, the targets and the JSON files (bench/results/latest-<scale>.json, committed, and
bench/.results/<timestamp>-<scale>.json, git-ignored)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from bench.servers import WORK_DIR as RUNS

# RUNS (bench/.results/, git-ignored) gets every run's JSON and profiles; RESULTS only the
# committed latest-<scale>.json.
RESULTS = Path(__file__).resolve().parent / "results"

PEER, CEILING = "postgraphile", "raw-best-sql"


@dataclass
class Row:
    scenario: str
    server: str  # api | api-2proc | postgraphile | raw-api-statements | raw-best-sql
    connections: int | None
    rps: float | None
    p50_ms: float | None
    p99_ms: float | None
    cpu_us: float | None = None  # the server's CPU per request, microseconds (bench/cpu.py)
    db_cpu_us: float | None = None  # its PostgreSQL backends' CPU per request
    valid: bool = True
    errors: int = 0
    note: str = ""
    ratio_peer: float | None = None
    ratio_ceiling: float | None = None
    detail: dict = field(default_factory=dict)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def add_ratios(rows: list[Row]) -> None:
    """API rows: req/s over PostGraphile's (same scenario and connections) and over the best raw
    SQL's (inbox pages; at 32 callers, the ceiling's only concurrency)."""
    by_key = {(r.scenario, r.server, r.connections): r for r in rows}
    ceiling = by_key.get(("inbox_all", CEILING, 32))
    for row in rows:
        if not row.server.startswith("api") or row.rps is None:
            continue
        peer = by_key.get((row.scenario, PEER, row.connections))
        if peer is not None and peer.valid:
            row.ratio_peer = _ratio(row.rps, peer.rps)
        if ceiling is not None and row.scenario.startswith("inbox") and row.connections == 32:
            row.ratio_ceiling = _ratio(row.rps, ceiling.rps)
    for row in rows:
        if row.server == "raw-api-statements" and ceiling is not None:
            row.ratio_ceiling = _ratio(row.rps, ceiling.rps)


@dataclass
class Target:
    name: str
    value: float | None
    threshold: str
    met: bool | None  # None: not measured (or invalid)
    note: str = ""


# The large scale the brief promises (issue 18), checked on the seeded data.
LARGE_MESSAGES, LARGE_CONVERSATIONS = 2_000_000, 200_000
PEER_SCREENS = (("messages", "messages page"), ("inbox_all", "inbox page ALL"), ("inbox_unread", "inbox page UNREAD"))
IDLE_RSS_MB = 300


def targets(
    rows: list[Row],
    round_trips: dict,
    ws: dict | None,
    idle: dict | None,
    scale_ratio: dict | None,
    large_counts: dict | None,
) -> list[Target]:
    """Issue 18's targets (and issue 15's search and markAll ones), each met, missed or n/a."""
    by_key = {(r.scenario, r.server, r.connections): r for r in rows}
    out = []
    for scenario, label in PEER_SCREENS:
        api, peer = by_key.get((scenario, "api", 32)), by_key.get((scenario, PEER, 32))
        valid = api is not None and peer is not None and api.valid and peer.valid
        note = "not run" if api is None or peer is None else ("" if valid else "INVALID: rows differ between servers")
        ratio = _ratio(api.rps, peer.rps) if api and peer else None
        out.append(
            Target(
                f"{label} req/s vs PostGraphile @32", ratio, ">= 1.0x", ratio >= 1.0 if valid and ratio else None, note
            )
        )
        known = valid and api.cpu_us is not None and peer.cpu_us is not None
        out.append(
            Target(
                f"{label} API CPU/request vs PostGraphile's @32 (us)",
                api.cpu_us if api else None,
                f"<= {_fmt(peer.cpu_us, 0) if peer else '-'} us",
                api.cpu_us <= peer.cpu_us if known else None,
                note or (f"PostgreSQL backends: api {_fmt(api.db_cpu_us, 0)} us, peer {_fmt(peer.db_cpu_us, 0)} us"),
            )
        )
    p99 = ws.get("p99_ms") if ws else None
    lost = ws.get("lost", 0) if ws else 0
    out.append(
        Target(
            "p99 send-to-receive, 1,000 subscribers over 2 processes, 200 sends/s",
            p99,
            "< 50 ms",
            None if p99 is None or (isinstance(p99, float) and math.isnan(p99)) else p99 < 50 and lost == 0,
            f"lost {lost}" if ws else "not run",
        )
    )
    for scenario, trips in (round_trips.get("api") or {}).items():
        out.append(
            Target(
                f"SQL round trips per page, {scenario} (api)",
                trips,
                "<= 1",
                trips <= 1,
                f"statements executed: {round_trips.get('api_statements', {}).get(scenario)}",
            )
        )
    if not round_trips:
        out.append(Target("SQL round trips per page (api)", None, "<= 1", None, "not run"))
    ratio = scale_ratio.get("ratio") if scale_ratio else None
    out.append(
        Target(
            "inbox p50 large/small (api, 1 connection)",
            ratio,
            "<= 1.3",
            None if ratio is None else ratio <= 1.3,
            scale_ratio.get("note", "") if scale_ratio else "needs a run of each scale",
        )
    )
    rss = idle.get("rss_after_mb") if idle else None
    out.append(
        Target(
            "RSS with 10,000 idle subscriptions (MB)",
            rss,
            f"<= {IDLE_RSS_MB} MB",
            None if rss is None or idle.get("subscriptions", 0) < 10_000 else rss <= IDLE_RSS_MB,
            f"{idle['per_subscription_kb']:.1f} KB/subscription, {idle['subscriptions']} open" if idle else "not run",
        )
    )
    messages = large_counts.get("message") if large_counts else None
    out.append(
        Target(
            "large scale: messages, conversations",
            messages,
            f">= {LARGE_MESSAGES:,} and >= {LARGE_CONVERSATIONS:,}",
            None
            if large_counts is None
            else messages >= LARGE_MESSAGES and large_counts["conversation"] >= LARGE_CONVERSATIONS,
            f"{large_counts['conversation']:,} conversations ({large_counts['source']})"
            if large_counts
            else "no large run yet",
        )
    )
    for where, place in (("shop", "shop-wide"), ("conversation", "one conversation")):
        for name, query in (("3", "3-character query"), ("10", "10-character query"), ("10_rare", "rare 10-character")):
            row = by_key.get((f"search_{name}_{where}", "api", 1))
            out.append(
                Target(
                    f"search p50, {query}, {place} (api, 1 connection)",
                    row.p50_ms if row else None,
                    "< 20 ms",
                    None if row is None or not row.valid else row.p50_ms < 20,
                    "not run" if row is None else ("" if row.valid else "INVALID: rows differ"),
                )
            )
    mark_all = by_key.get(("mark_all_read", "api", 1))
    out.append(
        Target(
            "markAllConversationsRead of s1's inbox, p50 (ms)",
            mark_all.p50_ms if mark_all else None,
            "< 100 ms",
            None if mark_all is None else mark_all.p50_ms < 100,
            mark_all.note if mark_all else "not run",
        )
    )
    return out


def _fmt(value, digits: int = 1, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{suffix}"
    return f"{value:,}{suffix}"


def table(rows: list[Row], goals: list[Target]) -> str:
    head = (
        "scenario",
        "server",
        "conns",
        "req/s",
        "p50 ms",
        "p99 ms",
        "cpu us/req",
        "db us/req",
        "x peer",
        "x ceiling",
        "notes",
    )
    lines = [head]
    for r in rows:
        notes = ("INVALID " if not r.valid else "") + (f"errors={r.errors} " if r.errors else "") + r.note
        lines.append(
            (
                r.scenario,
                r.server,
                _fmt(r.connections),
                _fmt(r.rps, 0),
                _fmt(r.p50_ms, 2),
                _fmt(r.p99_ms, 2),
                _fmt(r.cpu_us, 0),
                _fmt(r.db_cpu_us, 0),
                _fmt(r.ratio_peer, 2, "x"),
                _fmt(r.ratio_ceiling, 2, "x"),
                notes.strip(),
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head) - 1)]
    text = []
    for n, line in enumerate(lines):
        cells = [
            str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=False))
        ]
        text.append("  ".join(cells) + "  " + line[-1])
        if n == 0:
            text.append("-" * (sum(widths) + 2 * len(widths) + 5))
    text.append("")
    text.append("targets:")
    for goal in goals:
        mark = {True: "MET   ", False: "MISSED", None: "n/a   "}[goal.met]
        value = _fmt(goal.value, 2) if isinstance(goal.value, float) else _fmt(goal.value)
        text.append(f"  [{mark}] {goal.name}: {value} (target {goal.threshold}) {goal.note}".rstrip())
    return "\n".join(text)


def write(result: dict, stamp: str, scale: str) -> list[Path]:
    text = json.dumps(result, indent=2, default=str)
    paths = [RUNS / f"{stamp}-{scale}.json", RESULTS / f"latest-{scale}.json"]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return paths


def large_counts(scale: str, counts: dict) -> dict | None:
    """The large scale's row counts: this run's if it is large, else the latest large run's."""
    if scale == "large":
        return {**counts, "source": "this run"}
    path = RESULTS / "latest-large.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return {**data["dataset"]["counts"], "source": f"large run {data.get('started_at')}"}


def other_scale_p50(scale: str) -> tuple[float | None, str | None, str | None]:
    """The api inbox_all p50 at 1 connection of the latest run of the other scale, if any, with
    that run's stamp and git head (a ratio across different app code says little)."""
    other = "large" if scale == "small" else "small"
    path = RESULTS / f"latest-{other}.json"
    if not path.exists():
        return None, None, None
    data = json.loads(path.read_text())
    head = (data.get("environment") or {}).get("git_head")
    for row in data.get("rows", []):
        if row["scenario"] == "inbox_all" and row["server"] == "api" and row["connections"] == 1:
            return row["p50_ms"], data.get("started_at"), head
    return None, None, None
