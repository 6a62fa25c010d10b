"""python -m bench run --scale small|large [--runs 3] [--duration 10]
python -m bench profile --scenario inbox [--scale small] [--duration 15]

See bench/README.md for what is measured and how to read the table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench import capture, ceiling, cpu, dataset, report, servers, wrk, ws_load
from bench.report import Row
from bench.scenarios import (
    API_INBOX,
    API_MARK_ALL,
    MARK_ALL_BEHIND,
    MARK_ALL_RESET,
    SEARCH_QUERIES,
    SEND,
    read_scenarios,
    search_scenarios,
)
from core.text import fold

# The write scenarios' Redis; on a machine shared with other work, a database number of your own.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
CONNECTIONS = (1, 32)
WS_SUBSCRIBERS, WS_RATE, WS_SECONDS = 1_000, 200.0, 10.0
IDLE_SUBSCRIPTIONS = 10_000
BUSY_HOST_CORES = 0.25  # other processes using more than this during a point: say so
HOST: servers.HostLoad | None = None


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- facts about the seeded data ---------------------------------------------------------------


async def _facts(dsn: str, subscribers: int, idle: int) -> dict:
    conn = await asyncpg.connect(dsn)
    try:
        shop = await conn.fetchval("SELECT id FROM shop WHERE platform_id = 's1'")
        busy = await conn.fetchrow(
            "SELECT m.conversation_id, count(*) AS n FROM message m JOIN conversation c ON c.id = m.conversation_id "
            "WHERE c.shop_id = $1 GROUP BY m.conversation_id ORDER BY n DESC, m.conversation_id LIMIT 1",
            shop,
        )
        # conversations where the creator has replied: sends are not limited there
        replied = await conn.fetch(
            "SELECT c.id, cr.platform_id FROM conversation c JOIN creator cr ON cr.id = c.creator_id "
            "WHERE c.shop_id = $1 AND c.creator_has_replied "
            "AND NOT EXISTS (SELECT 1 FROM block b WHERE b.shop_id = c.shop_id AND b.creator_id = c.creator_id) "
            "ORDER BY c.id LIMIT $2",
            shop,
            subscribers,
        )
        idle_creators = await conn.fetch("SELECT platform_id FROM creator ORDER BY id LIMIT $1", idle)
        # For each search query, the conversation of s1 where it is found most often.
        search = {
            query: await conn.fetchval(
                "SELECT conversation_id FROM message_search WHERE shop_id = $1 AND strpos(body, $2) > 0 "
                "GROUP BY conversation_id ORDER BY count(*) DESC, conversation_id LIMIT 1",
                shop,
                fold(query),
            )
            for query in SEARCH_QUERIES.values()
        }
    finally:
        await conn.close()
    return {
        "shop_pk": shop,
        "busy_conversation": busy["conversation_id"],
        "busy_messages": busy["n"],
        "replied": [(row["id"], row["platform_id"]) for row in replied],
        "idle_creators": [row["platform_id"] for row in idle_creators],
        "search_conversations": search,
    }


async def _apply_smart_tags(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in servers.SMART_TAGS:
            await conn.execute(statement)
    finally:
        await conn.close()


# --- scenarios ---------------------------------------------------------------------------------


def _check_same_rows(scenarios, api, peer, token) -> dict[str, dict]:
    """Ask both servers each page once; rows (ids, in order) must match."""
    checks = {}
    for sc in scenarios:
        api_answer = servers.post_graphql(api.url, sc.api_query, sc.api_variables, token)
        peer_answer = servers.post_graphql(peer.url, sc.peer_query, sc.peer_variables)
        problems = []
        if api_answer.get("errors"):
            problems.append(f"api errors: {api_answer['errors']}"[:300])
        if peer_answer.get("errors"):
            problems.append(f"postgraphile errors: {peer_answer['errors']}"[:300])
        api_ids = sc.api_ids(api_answer["data"]) if not problems else []
        peer_ids = sc.peer_ids(peer_answer["data"]) if not problems else []
        if not problems and api_ids != peer_ids:
            problems.append(f"rows differ: api {api_ids[:8]}... vs postgraphile {peer_ids[:8]}...")
        if not problems and not api_ids:
            problems.append("empty page")
        valid = not problems
        if not valid:
            print(f"WARNING: {sc.name}: {'; '.join(problems)} -> results marked INVALID", flush=True)
        checks[sc.name] = {"valid": valid, "rows": len(api_ids), "problems": problems, "ids": api_ids}
    return checks


def _series(run_once, runs: int) -> wrk.Series:
    series = wrk.Series()
    for _ in range(runs):
        series.runs.append(run_once())
    return series


def _busy(since: float) -> tuple[float | None, str]:
    """Mean CPU (cores) other processes on the machine used since `since`, and a note if notable."""
    cores = HOST.cores(since, time.monotonic()) if HOST else None
    return cores, (f"busy host: others used {cores:.2f} cores" if cores and cores > BUSY_HOST_CORES else "")


def _row(
    scenario: str,
    server: str,
    conns: int,
    series_summary: dict,
    valid: bool = True,
    note: str = "",
    since: float | None = None,
) -> Row:
    s = series_summary
    cores, busy = _busy(since) if since is not None else (None, "")
    notes = [n for n in (note, busy, f"first error: {s['first_error'][:120]}" if s.get("first_error") else "") if n]
    return Row(
        scenario,
        server,
        conns,
        s["rps"],
        s["p50_ms"],
        s["p99_ms"],
        s.get("cpu_us"),
        s.get("db_cpu_us"),
        valid=valid,
        errors=s["errors"],
        note="; ".join(notes),
        detail={"runs": s.get("runs", []), "foreign_cpu_cores": cores},
    )


def _us(series: wrk.Series) -> str:
    cpu_us = series.median_of_known("cpu_us")
    return f"{cpu_us:.0f} us CPU/req" if cpu_us is not None else ""


def run_reads(procs, ds, facts, token, args, result) -> tuple[list[Row], list]:
    """Read scenarios against the API and PostGraphile (one process each), interleaved run by run."""
    url, dsn = ds.sqlalchemy_url(), ds.dsn()
    api = procs.start(servers.api_server("api", url, free_port()))
    peer = procs.start(servers.postgraphile_server("postgraphile", dsn, free_port()), timeout=120)
    api_probe, peer_probe = cpu.Probe((api.pid,), ds.database), cpu.Probe((peer.pid,), ds.database)
    scenarios = read_scenarios(facts["shop_pk"], facts["busy_conversation"])
    checks = _check_same_rows(scenarios, api, peer, token)
    result["row_checks"] = checks
    rows = []
    for sc in scenarios:
        api_script = wrk.static_script(f"{sc.name}-api", sc.api_query, sc.api_variables, token)
        peer_script = wrk.static_script(f"{sc.name}-peer", sc.peer_query, sc.peer_variables, None)
        for conns in CONNECTIONS:
            log(f"{sc.name} @{conns}: warm-up, then {args.runs} x {args.duration}s per server")
            wrk.run(api.url, api_script, conns, args.warmup)
            wrk.run(peer.url, peer_script, conns, args.warmup)
            since = time.monotonic()
            api_series, peer_series = wrk.Series(), wrk.Series()
            for _ in range(args.runs):
                api_series.runs.append(wrk.run(api.url, api_script, conns, args.duration, api_probe))
                peer_series.runs.append(wrk.run(peer.url, peer_script, conns, args.duration, peer_probe))
            valid = checks[sc.name]["valid"]
            rows.append(_row(sc.name, "api", conns, api_series.summary(), valid, since=since))
            rows.append(
                _row(
                    sc.name,
                    "postgraphile",
                    conns,
                    peer_series.summary(),
                    valid,
                    "no auth" if conns == 1 else "",
                    since=since,
                )
            )
            log(
                f"  api {api_series.median('rps'):.0f} req/s p50 {api_series.median('p50_ms'):.2f} ms "
                f"{_us(api_series)} | postgraphile {peer_series.median('rps'):.0f} req/s "
                f"p50 {peer_series.median('p50_ms'):.2f} ms {_us(peer_series)}"
            )
    result["api_log_errors"] = Counter(api.log_errors()).most_common(10)
    result["postgraphile_log_errors"] = Counter(peer.log_errors()).most_common(10)
    procs.stop(peer)
    procs.stop(api)
    return rows, scenarios


async def _search_reference(dsn: str, shop_pk: int, variables: dict) -> list[int]:
    """The ids a search page must hold, straight from the search table (no index needed: one shop)."""
    from bench.scenarios import decode_id

    conversation = decode_id(variables["conversationId"]) if "conversationId" in variables else None
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT message_id FROM message_search WHERE shop_id = $1 AND strpos(body, $2) > 0 "
            "AND ($3::int IS NULL OR conversation_id = $3) ORDER BY message_id DESC LIMIT 20",
            shop_pk,
            fold(variables["query"]),
            conversation,
        )
    finally:
        await conn.close()
    return [row["message_id"] for row in rows]


async def _search_plans(ds, token: str, scenarios) -> dict[str, str]:
    """Per scenario, PostgreSQL's plan of the search statement the API runs (EXPLAIN, not ANALYZE)."""
    plans = {}
    conn = await asyncpg.connect(ds.dsn())
    try:
        for sc in scenarios:
            statements, _ = await capture.capture_statements(
                ds.sqlalchemy_url(), servers.JWT_SECRET, sc.api_query, sc.api_variables, f"Bearer {token}"
            )
            sql, params = next((sql, params) for sql, params in statements if "message_search" in sql)
            plans[sc.name] = "\n".join(row[0] for row in await conn.fetch("EXPLAIN " + sql, *params))
    finally:
        await conn.close()
    return plans


def run_search(procs, ds, facts, token, args, result) -> list[Row]:
    """Message search (API only): each page checked against the search table, then timed with wrk."""
    api = procs.start(servers.api_server("api-search", ds.sqlalchemy_url(), free_port()))
    probe = cpu.Probe((api.pid,), ds.database)
    scenarios = search_scenarios(facts["search_conversations"])
    plans = asyncio.run(_search_plans(ds, token, scenarios))
    result["search_plans"] = plans
    rows = []
    for sc in scenarios:
        answer = servers.post_graphql(api.url, sc.api_query, sc.api_variables, token)
        got = sc.api_ids(answer["data"]) if not answer.get("errors") else answer["errors"]
        expected = asyncio.run(_search_reference(ds.dsn(), facts["shop_pk"], sc.api_variables))
        valid = got == expected and bool(expected)
        if not valid:
            print(f"WARNING: {sc.name}: api {str(got)[:200]} vs search table {expected[:8]} -> INVALID", flush=True)
        index = "trigram index" if "ix_message_search_body" in plans[sc.name] else "walk in id order"
        note = f"{len(expected)} rows; plan: {index}"
        script = wrk.static_script(f"{sc.name}-api", sc.api_query, sc.api_variables, token)
        for conns in CONNECTIONS:
            log(f"{sc.name} @{conns}: warm-up, then {args.runs} x {args.duration}s")
            wrk.run(api.url, script, conns, args.warmup)
            since = time.monotonic()
            series = _series(
                lambda script=script, conns=conns: wrk.run(api.url, script, conns, args.duration, probe), args.runs
            )
            rows.append(_row(sc.name, "api", conns, series.summary(), valid, note, since=since))
            log(
                f"  api {series.median('rps'):.0f} req/s p50 {series.median('p50_ms'):.2f} ms "
                f"p99 {series.median('p99_ms'):.2f} ms {_us(series)} ({index})"
            )
    result["search_log_errors"] = Counter(api.log_errors()).most_common(10)
    procs.stop(api)
    return rows


def run_round_trips(procs, ds, scenarios, token, result) -> dict:
    """Wire round trips per page of each server, through the counting proxy."""
    out = {"api": {}, "postgraphile": {}, "api_statements": {}, "postgraphile_statements": {}}
    with capture.RoundTripProxy() as proxy:
        via_proxy = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{ds.database}"
        api = procs.start(servers.api_server("api-roundtrips", via_proxy, free_port()))
        peer = procs.start(
            servers.postgraphile_server(
                "postgraphile-roundtrips", f"postgres://postgres@127.0.0.1:{proxy.port}/{ds.database}", free_port()
            ),
            timeout=120,
        )
        try:
            for sc in scenarios:
                cost = capture.measure(
                    proxy, lambda: servers.post_graphql(api.url, sc.api_query, sc.api_variables, token)
                )
                out["api"][sc.name], out["api_statements"][sc.name] = cost.round_trips, cost.statements
                cost = capture.measure(proxy, lambda: servers.post_graphql(peer.url, sc.peer_query, sc.peer_variables))
                out["postgraphile"][sc.name] = cost.round_trips
                out["postgraphile_statements"][sc.name] = cost.statements
        finally:
            procs.stop(peer)
            procs.stop(api)
    log(f"round trips per page: api {out['api']} | postgraphile {out['postgraphile']}")
    return out


def run_ceiling(ds, token, args, result, api_page_ids: list) -> list[Row]:
    statements, answer = asyncio.run(
        capture.capture_statements(
            ds.sqlalchemy_url(), servers.JWT_SECRET, API_INBOX, {"folder": "ALL"}, f"Bearer {token}"
        )
    )
    result["api_inbox_statements"] = [
        {"sql": " ".join(sql.split()), "parameters": [str(p) for p in params]} for sql, params in statements
    ]
    log(
        f"raw ceiling: the API runs {len(statements)} statements per inbox page; replaying them, "
        f"then the single best statement, {args.runs} x {args.duration}s at 32 callers"
    )
    best_ids = ceiling.best_page_ids(ds.dsn(), "s1", 50)
    best_valid = best_ids == api_page_ids
    if not best_valid:
        print(f"WARNING: best SQL rows differ from the API's: {best_ids[:5]} vs {api_page_ids[:5]}", flush=True)
    best = [(ceiling.BEST_INBOX_SQL, ("s1", 51))]
    rows = []
    for name, stmts, valid in (("raw-api-statements", statements, True), ("raw-best-sql", best, best_valid)):
        since = time.monotonic()
        runs = [ceiling.run(ds.dsn(), stmts, callers=32, seconds=args.duration) for _ in range(args.runs)]
        summary = ceiling.median_of(runs)
        rows.append(
            _row("inbox_all", name, 32, summary, valid, f"{len(stmts)} statement(s)/page, asyncpg pool 10", since)
        )
        log(f"  {name}: {summary['rps']:.0f} pages/s p50 {summary['p50_ms']:.2f} ms")
    return rows


def run_two_processes(procs, ds, facts, token, args) -> list[Row]:
    """The API at one process per core: `serve --workers 2` (one port, Redis) when the server has
    that option, else two processes on two ports with wrk split evenly."""
    url = ds.sqlalchemy_url()
    if servers.has_workers_option():
        started = [procs.start(servers.api_workers_server("api-workers2", url, free_port(), 2, REDIS_URL))]
        urls, how = [started[0].url], "serve --workers 2 (one port, REDIS_URL set)"
    else:
        started = [procs.start(servers.api_server(name, url, free_port())) for name in ("api-a", "api-b")]
        urls, how = [s.url for s in started], "2 processes on 2 ports x 16 connections"
    probe = cpu.Probe(tuple(s.pid for s in started), ds.database)
    rows = []
    try:
        for sc in read_scenarios(facts["shop_pk"], facts["busy_conversation"]):
            if sc.name not in ("inbox_all", "messages"):
                continue
            script = wrk.static_script(f"{sc.name}-api2", sc.api_query, sc.api_variables, token)
            wrk.run_split(urls, script, 32, args.warmup)
            since = time.monotonic()
            series = _series(lambda: wrk.run_split(urls, script, 32, args.duration, probe), args.runs)
            rows.append(_row(sc.name, "api-2proc", 32, series.summary(), note=how, since=since))
            log(f"  two processes ({how}) {sc.name}: {series.median('rps'):.0f} req/s {_us(series)}")
    finally:
        for server in started:
            procs.stop(server)
    return rows


def run_writes(procs, ds, facts, token, args, result) -> list[Row]:
    """sendMessage throughput, subscription latency over two processes, idle subscription memory;
    on a scratch copy of the database, so the read scenarios' data never changes."""
    from services.auth import issue_token  # the same HS256 tokens as `server.py token`

    scratch = asyncio.run(dataset.scratch_copy(ds))
    url = ds.sqlalchemy_url(scratch)
    nonce = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    rows = []
    try:
        first = procs.start(servers.api_server("api-w1", url, free_port(), REDIS_URL))
        probe = cpu.Probe((first.pid,), scratch)
        ids = [servers_id(conversation) for conversation, _ in facts["replied"]]
        for conns in CONNECTIONS:
            script = wrk.send_script(f"send-{conns}", SEND, ids, token, f"{nonce}-{conns}")
            wrk.run(first.url, script, conns, args.warmup)
            since = time.monotonic()
            series = _series(lambda: wrk.run(first.url, script, conns, args.duration, probe), args.runs)
            rows.append(
                _row(
                    "send_message",
                    "api",
                    conns,
                    series.summary(),
                    note="distinct clientMessageId, creator-replied conversations",
                    since=since,
                )
            )
            log(
                f"  sendMessage @{conns}: {series.median('rps'):.0f} req/s p50 {series.median('p50_ms'):.2f} ms "
                f"{_us(series)}"
            )

        second = procs.start(servers.api_server("api-w2", url, free_port(), REDIS_URL))
        pairs = [
            (conversation, issue_token(servers.JWT_SECRET, f"creator:{creator}", 3600))
            for conversation, creator in facts["replied"][:WS_SUBSCRIBERS]
        ]
        log(f"subscriptions: {len(pairs)} creators over 2 processes, {WS_RATE:.0f} sends/s for {WS_SECONDS:.0f}s")
        since = time.monotonic()
        ws = ws_load.latency([first.url, second.url], token, pairs, WS_RATE, WS_SECONDS, nonce)
        result["subscriptions_latency"] = ws
        ws_cores, ws_busy = _busy(since)
        rows.append(
            Row(
                "subscription_send_to_receive",
                "api-2proc",
                len(pairs),
                ws["achieved_send_rate"],
                ws["p50_ms"],
                ws["p99_ms"],
                valid=ws["subscribers"] >= WS_SUBSCRIBERS,
                errors=ws["send_errors"] + ws["subscription_errors"] + ws["subscribe_failures"],
                note=f"{ws['subscribers']} subscribers, req/s = sends/s, lost {ws['lost']}, "
                f"sendMessage HTTP p99 {ws['http_p99_ms']:.1f} ms" + (f"; {ws_busy}" if ws_busy else ""),
                detail={"foreign_cpu_cores": ws_cores},
            )
        )
        log(f"  send-to-receive p50 {ws['p50_ms']:.1f} ms p99 {ws['p99_ms']:.1f} ms, lost {ws['lost']}")
        # Diagnostic: if 200 sends/s is beyond what the API can take, the latency above is mostly
        # sendMessage queueing; the same test at half the measured sendMessage capacity shows the
        # delivery path (Redis + subscription read) on its own.
        capacity = next((r.rps for r in rows if r.scenario == "send_message" and r.connections == 32), None)
        if capacity and capacity < WS_RATE * 1.2:
            rate = max(5.0, round(capacity / 2))
            since = time.monotonic()
            diag = ws_load.latency([first.url, second.url], token, pairs, rate, WS_SECONDS, nonce + "d")
            result["subscriptions_latency_diagnostic"] = diag
            diag_cores, diag_busy = _busy(since)
            rows.append(
                Row(
                    "subscription_send_to_receive",
                    "api-2proc (diag)",
                    len(pairs),
                    diag["achieved_send_rate"],
                    diag["p50_ms"],
                    diag["p99_ms"],
                    valid=diag["subscribers"] >= WS_SUBSCRIBERS,
                    errors=diag["send_errors"] + diag["subscription_errors"] + diag["subscribe_failures"],
                    note=f"diagnostic at {rate:.0f} sends/s (half the sendMessage capacity), lost "
                    f"{diag['lost']}, HTTP p99 {diag['http_p99_ms']:.1f} ms" + (f"; {diag_busy}" if diag_busy else ""),
                    detail={"foreign_cpu_cores": diag_cores},
                )
            )
            log(
                f"  diagnostic at {rate:.0f}/s: p50 {diag['p50_ms']:.1f} ms p99 {diag['p99_ms']:.1f} ms, "
                f"lost {diag['lost']}"
            )
        for server in (first, second):
            result.setdefault("write_log_errors", {})[server.name] = Counter(server.log_errors()).most_common(10)
        procs.stop(second)
        procs.stop(first)

        idle_server = procs.start(servers.api_server("api-idle", url, free_port(), REDIS_URL))
        servers.post_graphql(idle_server.url, API_INBOX, {"folder": "ALL"}, token)  # warm: pool, schema
        time.sleep(1)
        tokens = [issue_token(servers.JWT_SECRET, f"creator:{c}", 3600) for c in facts["idle_creators"]]
        log(f"idle: {len(tokens)} WebSockets x 1 messageAdded subscription on one process")
        idle = ws_load.idle(idle_server.url, idle_server.pid, tokens)
        result["idle_subscriptions"] = idle
        rows.append(
            Row(
                "idle_subscriptions",
                "api",
                idle["connections"],
                None,
                None,
                None,
                valid=idle["subscriptions"] >= IDLE_SUBSCRIPTIONS,
                errors=idle["subscribe_failures"] + idle["subscription_errors"],
                note=f"RSS {idle['rss_before_mb']:.0f} -> {idle['rss_after_mb']:.0f} MB, "
                f"{idle['per_subscription_kb']:.1f} KB/subscription",
            )
        )
        log(
            f"  RSS {idle['rss_before_mb']:.0f} -> {idle['rss_after_mb']:.0f} MB "
            f"({idle['per_subscription_kb']:.1f} KB per subscription, {idle['subscriptions']} open)"
        )
        result.setdefault("write_log_errors", {})[idle_server.name] = Counter(idle_server.log_errors()).most_common(10)
        procs.stop(idle_server)
    finally:
        procs.stop_all()
        asyncio.run(dataset.drop(scratch))
    return rows


POOLER_SCENARIOS = ("messages", "inbox_all")


def run_pooler(procs, ds, facts, token, args, result) -> None:
    """The cost of PgBouncer (INBOX_DB_POOLER=pgbouncer: no prepared statements kept, reads in transactions)
    beside the direct connection: the messages page and the inbox at 32 connections, runs interleaved.
    PgBouncer's own CPU counts in the pooled server's CPU per request."""
    import tempfile

    from deploy import local_cluster

    home = Path(tempfile.mkdtemp(prefix="bench-pgbouncer-"))
    home.chmod(0o755)
    port = free_port()
    local_cluster.run_pgbouncer(home / "pgbouncer", port, {ds.database: dataset.PG_PORT})
    try:
        direct = procs.start(servers.api_server("api", ds.sqlalchemy_url(), free_port()))
        pooled_url = f"postgresql+asyncpg://{dataset.PG_USER}@127.0.0.1:{port}/{ds.database}"
        pooled = procs.start(servers.api_pgbouncer_server("api-pgbouncer", pooled_url, free_port()))
        probes = {
            "direct": cpu.Probe((direct.pid,), ds.database),
            "pgbouncer": cpu.Probe((pooled.pid, local_cluster.pgbouncer_pid(home / "pgbouncer")), ds.database),
        }
        figures: dict = {}
        for sc in read_scenarios(facts["shop_pk"], facts["busy_conversation"]):
            if sc.name not in POOLER_SCENARIOS:
                continue
            script = wrk.static_script(f"{sc.name}-api", sc.api_query, sc.api_variables, token)
            series = {"direct": wrk.Series(), "pgbouncer": wrk.Series()}
            for server in (direct, pooled):
                wrk.run(server.url, script, 32, args.warmup)
            for _ in range(args.runs):
                for kind, server in (("direct", direct), ("pgbouncer", pooled)):
                    series[kind].runs.append(wrk.run(server.url, script, 32, args.duration, probes[kind]))
            figures[sc.name] = {kind: s.summary() for kind, s in series.items()}
            log(
                f"{sc.name} @32: direct {series['direct'].median('rps'):.0f} req/s {_us(series['direct'])} | "
                f"pgbouncer {series['pgbouncer'].median('rps'):.0f} req/s {_us(series['pgbouncer'])}"
            )
        result["pooler"] = figures
        procs.stop(pooled)
        procs.stop(direct)
    finally:
        local_cluster.stop_pgbouncer_in(home / "pgbouncer")


def run_mark_all(procs, ds, facts, token, args, result) -> list[Row]:
    """markAllConversationsRead of s1's whole inbox (5,000 conversations), each unread, on a copy of the
    database, as a client sees it: REDIS_URL is set, so the events to the 5,000 creators are included."""
    scratch = asyncio.run(dataset.scratch_copy(ds, "markall"))
    url, dsn = ds.sqlalchemy_url(scratch), ds.dsn(scratch)
    iterations = max(5, 5 * args.runs)
    try:
        api = procs.start(servers.api_server("api-markall", url, free_port(), REDIS_URL))
        try:
            times, shape = asyncio.run(_time_mark_all(api.url, dsn, facts["shop_pk"], token, iterations))
        finally:
            procs.stop(api)
    finally:
        asyncio.run(dataset.drop(scratch))
    result["mark_all"] = {"conversations": shape, "runs_ms": times}
    p50 = statistics.median(times)
    log(f"  markAllConversationsRead of {shape['behind']:,} conversations: p50 {p50:.1f} ms, max {max(times):.1f} ms")
    return [
        Row(
            "mark_all_read",
            "api",
            1,
            None,
            p50,
            max(times),
            detail={"runs_ms": times},
            note=f"{shape['behind']:,} conversations ({shape['unread']:,} unread), reset before each of "
            f"{iterations} runs; p99 = max",
        )
    ]


async def _time_mark_all(api_url: str, dsn: str, shop_pk: int, token: str, iterations: int) -> tuple[list[float], dict]:
    """Milliseconds per mutation after a warm-up, each on a freshly reset and vacuumed inbox (the reset
    is not timed), and the inbox's shape."""
    conn = await asyncpg.connect(dsn)
    times = []

    async def reset() -> None:
        await conn.execute(MARK_ALL_RESET, shop_pk)
        await conn.execute("VACUUM ANALYZE conversation_state")

    try:
        await reset()
        row = await conn.fetchrow(MARK_ALL_BEHIND, shop_pk)
        shape = {"behind": row["behind"], "unread": row["unread"]}
        for n in range(iterations + 1):
            await reset()
            started = time.perf_counter()
            answer = await asyncio.to_thread(servers.post_graphql, api_url, API_MARK_ALL, {}, token)
            if n:  # the first is a warm-up
                times.append((time.perf_counter() - started) * 1000)
            assert answer["data"]["markAllConversationsRead"]["markedCount"] == shape["unread"], answer
    finally:
        await conn.close()
    return times, shape


def servers_id(conversation_pk: int) -> str:
    from bench.scenarios import encode_id

    return encode_id("Conversation", conversation_pk)


def _environment() -> dict:
    def version(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return None

    def git(*argv):
        try:
            return subprocess.run(
                ["git", *argv], cwd=servers.REPO, capture_output=True, text=True, timeout=10
            ).stdout.rstrip("\n")
        except (OSError, subprocess.TimeoutExpired):
            return ""

    changed = [line[3:] for line in git("status", "--porcelain").splitlines() if not line[3:].startswith("bench/")]
    return {
        "git_head": git("rev-parse", "--short", "HEAD"),
        "app_files_changed_since_head": changed,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "wrk": version([wrk.wrk_binary(), "-v"]) or "wrk",
        "postgres": version(["psql", "--version"]),
        "peer": servers.peer_versions(),
    }


def cmd_run(args) -> int:
    if args.only == "uploads":  # bench/uploads.py: a server of its own on SQLite, no dataset
        from bench import uploads

        return uploads.run()
    if args.only == "webhooks":  # bench/webhooks.py: two servers on a database of its own, a local receiver
        from bench import webhooks

        return webhooks.run()
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result: dict = {
        "started_at": stamp,
        "scale": args.scale,
        "runs": args.runs,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "notes": [],
        "api_env_overrides": servers.UNLIMITED,
    }
    ds = asyncio.run(dataset.ensure(args.scale, args.database))
    result["dataset"] = {
        "database": ds.database,
        "demo_scale": ds.demo_scale,
        "counts": ds.counts,
        "seeded_now": ds.seeded_now,
        "seconds": round(ds.seconds, 1),
    }
    result["notes"] += ds.shape_notes()
    only = set(args.only.split(",")) if args.only else None
    if only is None or only & {"reads", "roundtrips"}:  # the parts that run PostGraphile
        servers.ensure_peer()
    result["environment"] = _environment()
    asyncio.run(_apply_smart_tags(ds.dsn()))
    facts = asyncio.run(_facts(ds.dsn(), WS_SUBSCRIBERS, IDLE_SUBSCRIPTIONS))
    result["facts"] = {k: v for k, v in facts.items() if k not in ("replied", "idle_creators")}
    result["facts"]["replied_conversations"] = len(facts["replied"])
    token = servers.token("shop:s1", ds.sqlalchemy_url())
    rows: list[Row] = []
    round_trips: dict = {}
    global HOST
    with servers.HostLoad(ds.database) as HOST, servers.Processes() as procs:
        scenarios = read_scenarios(facts["shop_pk"], facts["busy_conversation"])
        if only is None or "reads" in only:
            read_rows, scenarios = run_reads(procs, ds, facts, token, args, result)
            rows += read_rows
        if only is None or "roundtrips" in only:
            round_trips = run_round_trips(procs, ds, scenarios, token, result)
        if only is None or "ceiling" in only:
            api_page = result.get("row_checks", {}).get("inbox_all", {}).get("ids") or _api_page_ids(procs, ds, token)
            rows += run_ceiling(ds, token, args, result, api_page)
        if only is None or "twoproc" in only:
            rows += run_two_processes(procs, ds, facts, token, args)
        if only is None or "search" in only:
            rows += run_search(procs, ds, facts, token, args, result)
        if only is None or "writes" in only:
            rows += run_writes(procs, ds, facts, token, args, result)
        if only is None or "markall" in only:
            rows += run_mark_all(procs, ds, facts, token, args, result)
        if only is None or "pooler" in only:
            run_pooler(procs, ds, facts, token, args, result)
    result["round_trips"] = round_trips
    result["foreign_cpu_cores_mean"] = (sum(c for _, c in HOST.samples) / len(HOST.samples)) if HOST.samples else None
    # rows in a stable order: by scenario, then server, then connections
    order = {
        name: n
        for n, name in enumerate(
            [
                "inbox_all",
                "inbox_unread",
                "inbox_filtered",
                "messages",
                "messages_receipts",
                "counts",
                *(f"search_{name}_{where}" for where in ("shop", "conversation") for name in SEARCH_QUERIES),
                "send_message",
                "subscription_send_to_receive",
                "idle_subscriptions",
                "mark_all_read",
            ]
        )
    }
    rows.sort(key=lambda r: (order.get(r.scenario, 99), r.connections or 0, r.server))
    report.add_ratios(rows)
    other_p50, other_stamp, other_head = report.other_scale_p50(args.scale)
    this_p50 = next((r.p50_ms for r in rows if (r.scenario, r.server, r.connections) == ("inbox_all", "api", 1)), None)
    scale_ratio = None
    if other_p50 and this_p50:
        large, small = (this_p50, other_p50) if args.scale == "large" else (other_p50, this_p50)
        scale_ratio = {
            "ratio": large / small,
            "large_p50_ms": large,
            "small_p50_ms": small,
            "note": f"other scale from run {other_stamp}"
            + (
                f"; WARNING: app code differs (git {other_head} vs {result['environment']['git_head']})"
                if other_head != result["environment"]["git_head"]
                else ""
            ),
        }
    result["scale_ratio"] = scale_ratio
    goals = report.targets(
        rows,
        round_trips,
        result.get("subscriptions_latency"),
        result.get("idle_subscriptions"),
        scale_ratio,
        report.large_counts(args.scale, ds.counts),
    )
    result["rows"] = [r.__dict__ for r in rows]
    result["targets"] = [g.__dict__ for g in goals]
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    text = report.table(rows, goals)
    result["table"] = text
    paths = report.write(result, stamp, args.scale)
    print()
    print(
        f"scale {args.scale}: {ds.counts['message']:,} messages, {ds.counts['conversation']:,} conversations, "
        f"s1 {ds.counts['s1_conversations']:,} conversations; round trips/page: api {round_trips.get('api')}, "
        f"postgraphile {round_trips.get('postgraphile')}"
    )
    print(text)
    for note in result["notes"]:
        print(f"note: {note}")
    print(f"\nwall time {result['wall_seconds']:.0f}s; written {', '.join(str(p) for p in paths)}")
    return 0


def _api_page_ids(procs, ds, token) -> list:
    """The API's inbox ALL page (conversation ids), from a short-lived server."""
    from bench.scenarios import decode_id

    api = procs.start(servers.api_server("api-check", ds.sqlalchemy_url(), free_port()))
    try:
        data = servers.post_graphql(api.url, API_INBOX, {"folder": "ALL"}, token)["data"]
        return [decode_id(e["node"]["id"]) for e in data["conversations"]["edges"]]
    finally:
        procs.stop(api)


# --- profile -------------------------------------------------------------------------------------

PROFILE_SCENARIOS = {
    "inbox": "inbox_all",
    "unread": "inbox_unread",
    "filtered": "inbox_filtered",
    "messages": "messages",
    "receipts": "messages_receipts",
    "counts": "counts",
}


def _summarise_collapsed(path: Path, top: int = 35) -> str:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    self_time, inclusive, total = Counter(), Counter(), 0
    groups = Counter()
    group_rules = (
        ("graphql/validation", "graphql-core validation"),
        ("graphql/execution", "graphql-core execution"),
        ("graphql/language", "graphql-core parse"),
        ("strawberry", "strawberry"),
        ("sqlalchemy", "SQLAlchemy"),
        ("asyncpg", "asyncpg"),
        ("aiohttp", "aiohttp"),
        ("jwt", "PyJWT"),
        ("orjson", "orjson"),
        ("json", "json"),
        ("asyncio", "asyncio event loop"),
        ("selectors", "waiting for I/O (selectors)"),
    )
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        self_time[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
        leaf = frames[-1]
        for needle, name in group_rules:
            if needle in leaf:
                groups[name] += n
                break
        else:
            groups["other (app code, builtins)"] += n
    out = [f"samples: {total}", "", "self time by library (leaf frame):"]
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in groups.most_common()]
    out += ["", f"top {top} functions by self time:"]
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in self_time.most_common(top)]
    out += ["", f"top {top} functions by inclusive time:"]
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(out) + "\n"


_GROUPS = (
    ("graphql/validation", "graphql-core validation"),
    ("graphql/execution", "graphql-core execution"),
    ("graphql/language", "graphql-core parse"),
    ("graphql/", "graphql-core other"),
    ("strawberry", "strawberry"),
    ("sqlalchemy", "SQLAlchemy"),
    ("asyncpg", "asyncpg"),
    ("aiohttp", "aiohttp"),
    ("jwt", "PyJWT"),
    ("orjson", "orjson"),
    ("redis", "redis"),
    ("asyncio", "asyncio event loop"),
    ("selectors", "waiting for I/O (selectors)"),
    ("/work/main/", "app code (repo)"),
)


def _group(path: str) -> str:
    return next((name for needle, name in _GROUPS if needle in path), "other (stdlib, builtins)")


def _summarise_pyinstrument(session_path: Path, top: int = 30) -> str:
    """Self time per library and the functions with most self time, from a pyinstrument session."""
    from pyinstrument.session import Session

    root = Session.load(str(session_path)).root_frame()
    groups, functions = Counter(), Counter()
    stack = [root] if root else []
    while stack:
        frame = stack.pop()
        stack.extend(frame.children)
        path = frame.file_path or frame.identifier or ""
        groups[_group(path)] += frame.self_time
        functions[f"{frame.function} ({path.split('site-packages/')[-1]}:{frame.line_no})"] += frame.self_time
    total = sum(groups.values()) or 1.0
    out = [f"sampled seconds: {total:.1f}", "", "self time by library:"]
    out += [f"  {100 * t / total:5.1f}%  {name}" for name, t in groups.most_common()]
    out += ["", f"top {top} functions by self time:"]
    out += [f"  {100 * t / total:5.1f}%  {name}" for name, t in functions.most_common(top)]
    return "\n".join(out) + "\n"


def _py_spy_works(py_spy: Path, pid: int) -> bool:
    try:
        return (
            subprocess.run(
                [str(py_spy), "dump", "--pid", str(pid), "--nonblocking"], capture_output=True, timeout=30
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def cmd_profile(args) -> int:
    """Profile one API process under wrk load: py-spy if it can read the process (it cannot on some
    sandboxed kernels), else the server runs under pyinstrument (`python -m pyinstrument server.py
    serve`), stopped by SIGINT after the load, which writes its session."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    ds = asyncio.run(dataset.ensure(args.scale))
    facts = asyncio.run(_facts(ds.dsn(), 1, 1))
    token = servers.token("shop:s1", ds.sqlalchemy_url())
    scenario = next(
        s
        for s in read_scenarios(facts["shop_pk"], facts["busy_conversation"])
        if s.name == PROFILE_SCENARIOS[args.scenario]
    )
    report.RUNS.mkdir(parents=True, exist_ok=True)
    base = report.RUNS / f"profile-{args.scenario}-{args.scale}-{stamp}"
    py_spy = Path(sys.executable).with_name("py-spy")
    port = free_port()
    script = wrk.static_script(f"{scenario.name}-profile", scenario.api_query, scenario.api_variables, token)
    tool = args.tool
    with servers.Processes() as procs:
        if tool in ("auto", "py-spy"):
            api = procs.start(servers.api_server("api-profile", ds.sqlalchemy_url(), port))
            if py_spy.exists() and _py_spy_works(py_spy, api.pid):
                tool = "py-spy"
            elif tool == "py-spy":
                raise SystemExit("py-spy cannot read the server process here; use --tool pyinstrument")
            else:
                procs.stop(api)
                tool = "pyinstrument"
        if tool == "pyinstrument":
            session = servers.WORK_DIR / f"profile-{stamp}.pyisession"
            api = servers.api_server("api-profile", ds.sqlalchemy_url(), port)
            api.argv = [
                servers.PYTHON,
                "-m",
                "pyinstrument",
                "-r",
                "session",
                "-o",
                str(session),
                "server.py",
                "serve",
                "--no-demo",
            ]
            procs.start(api)
        wrk.run(api.url, script, args.connections, 3)  # warm-up
        log(f"{tool}: {args.duration}s of {scenario.name} under {args.connections} connections")
        if tool == "py-spy":
            load_seconds = 2 * args.duration + 8
            load = subprocess.Popen(
                wrk.command(api.url, script, args.connections, load_seconds),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                time.sleep(1)
                collapsed = servers.WORK_DIR / f"profile-{stamp}.collapsed"
                for fmt, out in (("flamegraph", base.with_suffix(".svg")), ("raw", collapsed)):
                    subprocess.run(
                        [
                            str(py_spy),
                            "record",
                            "--pid",
                            str(api.pid),
                            "--duration",
                            str(args.duration),
                            "--rate",
                            "250",
                            "--format",
                            fmt,
                            "--output",
                            str(out),
                            "--nonblocking",
                        ],
                        check=True,
                        timeout=args.duration + 60,
                        capture_output=True,
                    )
                output, _ = load.communicate(timeout=load_seconds + 60)
            finally:
                if load.poll() is None:
                    load.kill()
                    load.wait()
            body = _summarise_collapsed(collapsed)
            outputs = [base.with_suffix(".svg")]
        else:
            output_result = wrk.run(api.url, script, args.connections, args.duration)
            output = None
            os.kill(api.pid, signal.SIGINT)  # run_app stops; pyinstrument writes the session
            api.proc.wait(60)
            procs.stop(api)
            for renderer, suffix in (("html", ".html"), ("speedscope", ".speedscope.json")):
                subprocess.run(
                    [
                        servers.PYTHON,
                        "-m",
                        "pyinstrument",
                        "--load",
                        str(session),
                        "-r",
                        renderer,
                        "-o",
                        str(base.with_suffix(suffix)),
                    ],
                    check=True,
                    timeout=120,
                )
            text = subprocess.run(
                [
                    servers.PYTHON,
                    "-m",
                    "pyinstrument",
                    "--load",
                    str(session),
                    "-r",
                    "text",
                    "--no-unicode",
                    "--no-color",
                ],
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout
            body = _summarise_pyinstrument(session) + "\ncall tree (pyinstrument text renderer):\n" + text
            outputs = [base.with_suffix(".html"), base.with_suffix(".speedscope.json")]
    load_result = wrk.WrkResult.parse(output) if output is not None else output_result
    header = (
        f"profile of `python server.py serve` (one process) under wrk: {scenario.name}, "
        f"{args.connections} connections, scale {args.scale}, tool {tool}\n"
        f"load while profiled: {load_result.rps:.0f} req/s, p50 {load_result.p50_ms:.2f} ms, "
        f"p99 {load_result.p99_ms:.2f} ms (the profiler slows the server somewhat)\n"
        f"flame view: {', '.join(p.name for p in outputs)} (speedscope.json: open at speedscope.app offline "
        f"build or any speedscope viewer)\n\n"
    )
    summary_path = base.with_suffix(".txt")
    summary_path.write_text(header + body)
    print(summary_path.read_text()[:6000])
    print(f"written {', '.join(str(p) for p in [*outputs, summary_path])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="the whole benchmark, one table")
    run.add_argument("--scale", choices=sorted(dataset.SCALES), default="small")
    run.add_argument("--runs", type=int, default=3, help="timed runs per point (the median is reported)")
    run.add_argument("--duration", type=float, default=10, help="seconds per timed run")
    run.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per point")
    run.add_argument(
        "--only",
        help="comma list of parts: reads,roundtrips,ceiling,twoproc,search,writes,markall,pooler (default all); "
        "or uploads, or webhooks, alone",
    )
    run.add_argument("--database", help="the seeded database to use or build (default inbox_bench_<scale>)")
    profile = commands.add_parser("profile", help="py-spy flame graph and summary of the API under load")
    profile.add_argument("--scenario", choices=sorted(PROFILE_SCENARIOS), default="inbox")
    profile.add_argument("--scale", choices=sorted(dataset.SCALES), default="small")
    profile.add_argument("--duration", type=int, default=15)
    profile.add_argument("--connections", type=int, default=32)
    profile.add_argument("--tool", choices=("auto", "py-spy", "pyinstrument"), default="auto")
    args = parser.parse_args(argv)
    _raise_fd_limit()
    if args.command == "run" and args.runs < 1:
        parser.error("--runs must be at least 1")
    return {"run": cmd_run, "profile": cmd_profile}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
