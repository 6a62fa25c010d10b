"""The inbox API server: app factory and command line.

python server.py [--port P]      serve (SQLite by default; migrates and seeds a demo on first start)
python server.py migrate         apply the database migrations
python server.py import FILE     upsert shops, creators and products from a platform export
python server.py token SUBJECT   print a bearer token, e.g. `token shop:s1`
python server.py seed-demo       migrate, then fill an empty database (or one emptied by --reset) with demo data
python server.py export-schema   write schema.graphql from the code
"""

import argparse
import asyncio
import dataclasses
import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import aiohttp_cors
from aiohttp import WSCloseCode, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import fastpath
from core.config import Settings
from core.persisted import ManifestError, load_manifest
from core.ratelimit import Bucket, create_rate_limits
from core.webhook_dispatch import Dispatcher
from models.database import create_engine
from models.replica import READ_AFTER_HEADER, WAL_POSITION_HEADER
from schema import schema
from schema.graphiql import add_asset_routes as add_graphiql_routes
from schema.images import media_handler
from schema.limits import Limits
from services.auth import issue_token, resolve_media_secret, resolve_secret
from services.images import clean_up_periodically
from services.runtime import Runtime
from subscriptions import SYSTEM_CHANNEL, create_broker

if TYPE_CHECKING:  # the commands are imported where they run: servers never load them
    from commands.demo import DemoSummary
    from commands.platform_import import ImportSummary

ROOT = Path(__file__).resolve().parent
APP_STATE = web.AppKey("app_state", Runtime)
APP_SEAMS = web.AppKey("app_seams", fastpath.Seams)
log = logging.getLogger("inbox")
# Request headers a browser page may send cross-origin: Apollo Client's clientAwareness names the app in
# `apollographql-client-*`, Apollo's Kotlin and iOS clients send `X-Apollo-Operation-*`, graphql-sse's
# single-connection mode `X-GraphQL-Event-Stream-Token`. And the response headers such a page may read.
CORS_ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Accept",
    "X-Request-Id",
    "apollographql-client-name",
    "apollographql-client-version",
    "X-Apollo-Operation-Name",
    "X-Apollo-Operation-Id",
    "Apollo-Require-Preflight",
    "X-GraphQL-Event-Stream-Token",
    READ_AFTER_HEADER,
)
CORS_EXPOSE_HEADERS = ("X-Request-Id", "Retry-After", WAL_POSITION_HEADER)


def create_app(settings: Settings) -> web.Application:
    """The aiohttp application; the engine, broker and rate limiter live as long as the app."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    rate_limits = create_rate_limits(
        settings.redis_url,
        Bucket(settings.query_burst, settings.query_rate),
        Bucket(settings.mutation_burst, settings.mutation_rate),
        Bucket(settings.bulk_burst, settings.bulk_rate),
        Bucket(settings.typing_burst, settings.typing_rate),
        # A full hour's allowance at once, refilled evenly over the hour.
        Bucket(settings.uploads_per_hour, settings.uploads_per_hour / 3600),
        cluster=settings.redis_cluster,
    )
    # The speed layer's parts, or the plain app's (INBOX_FAST_PATH=off, or other library versions).
    seams = app[APP_SEAMS] = fastpath.seams(settings.fast_path)
    engine = seams.gated_engine(create_engine(settings.database_url, settings.db_pool_size, settings.db_pooler))
    replica = settings.database_replica_url
    replica_engine = (
        seams.gated_engine(create_engine(replica, settings.db_pool_size, settings.db_pooler)) if replica else None
    )
    state = Runtime(
        settings=settings,
        engine=engine,
        secret=resolve_secret(settings),
        broker=create_broker(settings.redis_url, settings.redis_cluster),
        rate_limits=rate_limits,
        media_secret=resolve_media_secret(settings),
        replica_engine=replica_engine,
    )
    app[APP_STATE] = state

    async def lifetime(_app: web.Application) -> AsyncIterator[None]:
        await state.broker.start()
        await state.sockets.start()
        await state.storage.start()
        if state.replica is not None:
            state.replica.start()
        cleanup = asyncio.create_task(clean_up_periodically(state, settings.image_cleanup_seconds))
        webhooks = Dispatcher(settings, state.webhooks_due) if settings.webhook_dispatch else None
        if webhooks is not None:
            webhooks.start()
        yield
        cleanup.cancel()
        if webhooks is not None:
            await webhooks.close()
        state.decoder.shutdown(wait=False, cancel_futures=True)
        await state.storage.close()
        await state.sockets.close()
        await state.persisted.close()
        await state.indicators.close()
        await state.broker.close()
        await state.rate_limits.close()
        if state.replica is not None:
            await state.replica.close()
        await state.engine.dispose()

    app.cleanup_ctx.append(lifetime)
    if settings.metrics_port:
        app.cleanup_ctx.append(_metrics_listener(state))
    app.on_shutdown.append(_close_websockets)
    limits = Limits(settings.max_depth, settings.max_aliases, settings.max_tokens, settings.max_cost)
    view = seams.view(
        seams.build_schema(limits, settings.production),
        state,
        graphql_ide=None if settings.production else "graphiql",
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
    )
    app.on_shutdown.append(view.end_streams)
    graphql_routes = [app.router.add_get("/graphql", view), app.router.add_post("/graphql", view)]
    if not settings.production:
        add_graphiql_routes(app)
    # Signed links: no Authorization header, the signature is the permission (schema/images.py).
    app.router.add_get("/media/{sha256}/{name}", media_handler(state))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    if settings.cors_origins:
        _allow_cross_origin(app, settings.cors_origins, graphql_routes)
    return app


def _allow_cross_origin(app: web.Application, origins: tuple[str, ...], routes: list[web.AbstractRoute]) -> None:
    """CORS for pages on `origins` (INBOX_CORS_ORIGINS): preflights with the headers real clients send
    pass, and those pages may read CORS_EXPOSE_HEADERS. Pages on other origins get no CORS header."""
    options = aiohttp_cors.ResourceOptions(allow_headers=CORS_ALLOW_HEADERS, expose_headers=CORS_EXPOSE_HEADERS)
    cors = aiohttp_cors.setup(app, defaults={origin: options for origin in origins})
    for route in routes:
        cors.add(route)


async def _healthz(_request: web.Request) -> web.Response:
    """The process is alive."""
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    """The database and, if configured, Redis answer; 503 otherwise."""
    state = request.app[APP_STATE]
    checks = {"database": await _database_reachable(state)}
    if state.settings.redis_url:
        checks["redis"] = await state.broker.reachable()
    return web.json_response({"ready": all(checks.values()), **checks}, status=200 if all(checks.values()) else 503)


async def _database_reachable(state: Runtime) -> bool:
    try:
        async with asyncio.timeout(2):
            async with state.reader.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False


def _metrics_listener(state: Runtime) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context serving GET /metrics on a listener of its own (INBOX_METRICS_HOST, loopback
    by default) while the app runs: metrics describe everyone's traffic, so the public port has none.
    A port that cannot be bound stops the server rather than leaving it unmonitored."""

    async def listen(_app: web.Application) -> AsyncIterator[None]:
        metrics_app = web.Application()
        metrics_app[APP_STATE] = state
        metrics_app.router.add_get("/metrics", _metrics)
        runner = web.AppRunner(metrics_app, access_log=None)
        await runner.setup()
        host, port = state.settings.metrics_host, state.settings.metrics_port
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            await runner.cleanup()
            raise SystemExit(
                f"cannot serve metrics on {host}:{port} ({error.strerror}); choose another "
                "INBOX_METRICS_PORT (0 turns the metrics listener off)"
            ) from None
        log.info("metrics on http://%s:%s/metrics", host, port)
        yield
        await runner.cleanup()

    return listen


async def _metrics(request: web.Request) -> web.Response:
    registry = request.app[APP_STATE].metrics.registry
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _close_websockets(app: web.Application) -> None:
    """On shutdown, close every WebSocket with 1012 (service restart): clients reconnect elsewhere and
    resume with `after`."""
    for ws in list(app[APP_STATE].websockets):
        await ws.close(code=WSCloseCode.SERVICE_RESTART, message=b"server restarting; reconnect and resume with after")


def export_schema(path: Path = ROOT / "schema.graphql") -> None:
    path.write_text(schema.as_str() + "\n")


async def _prepare_embedded(settings: Settings, seed: bool) -> bool:
    """Migrate the embedded database, and seed a small demo into an empty one. True if seeded."""
    from commands.demo import database_is_empty, seed_demo
    from models.migrate import (
        upgrade,  # Alembic is only needed here and by `migrate`: keep it out of servers
    )

    await asyncio.to_thread(upgrade, settings.database_url)
    engine = create_engine(settings.database_url, pooler=settings.db_pooler)
    try:
        if seed and await database_is_empty(engine):
            await seed_demo(engine, scale=1)
            return True
        return False
    finally:
        await engine.dispose()


def _print_welcome(settings: Settings) -> None:
    secret = resolve_secret(settings)
    base = f"http://{settings.host}:{settings.port}/graphql"
    print("\nGraphiQL, with the Authorization header filled in:")
    for who, subject in (("demo seller (shop s1)", "shop:s1"), ("demo creator (c1)", "creator:c1")):
        token = issue_token(secret, subject, settings.max_token_ttl_seconds, settings.max_token_ttl_seconds)
        print(f"  {who}: {base}#token={token}")
    print()


def _run_worker(settings: Settings, reuse_port: bool, index: int = 0) -> None:
    """One server process on uvloop (when installed). Worker `index` serves its metrics on
    INBOX_METRICS_PORT + index: each process has its own registry, and Prometheus must scrape
    every one (one port shared with SO_REUSEPORT would answer from a process chosen at random)."""
    if settings.metrics_port:
        settings = replace(settings, metrics_port=settings.metrics_port + index)
    loop: asyncio.AbstractEventLoop
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    app = create_app(settings)
    app.on_startup.append(_tune_gc)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        reuse_port=reuse_port,
        loop=loop,
        shutdown_timeout=settings.shutdown_grace_seconds,
    )


# A young-generation collection walks every object allocated since the previous one that is still
# alive: under load, the rows, results and futures of the requests in flight, which reference
# counting frees soon after anyway, so the walk finds next to no garbage. A request allocates
# thousands of such objects, so at CPython's default threshold of 700 net allocations a busy process
# collects over and over; with a higher one most of a request's objects are allocated and freed
# between two collections and never walked. Older generations are collected less often in step.
GC_YOUNG_THRESHOLD = 10_000


async def _tune_gc(_app: web.Application) -> None:
    """Move everything built at startup (schema, SQLAlchemy metadata, modules) out of the
    garbage collector's reach, so full collections walk only what requests and connections
    created (the startup heap is large and never garbage), and collect the young generation
    less often (see GC_YOUNG_THRESHOLD)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def serve(settings: Settings, seed_demo: bool, workers: int = 1) -> None:
    """Serve with `workers` processes sharing the port (SO_REUSEPORT); several need Redis."""
    if workers > 1 and not settings.redis_url:
        sys.exit("--workers above 1 needs REDIS_URL, so that live events reach every process.")
    _check_trusted_documents(settings)
    _check_listen(settings, reuse_port=workers > 1)
    if settings.is_sqlite:
        asyncio.run(_prepare_embedded(settings, seed_demo))
        _print_welcome(settings)
    if workers == 1:
        _run_worker(settings, reuse_port=False)
        return
    processes = [multiprocessing.Process(target=_run_worker, args=(settings, True, index)) for index in range(workers)]
    for process in processes:
        process.start()

    def terminate(*_: object) -> None:
        for process in processes:
            process.terminate()

    signal.signal(signal.SIGTERM, terminate)
    for process in processes:
        process.join()


def _fail(message: str) -> NoReturn:
    """A refusal the operator can act on: one line on stderr, exit status 2, no traceback."""
    print(message, file=sys.stderr)
    raise SystemExit(2)


def _check_trusted_documents(settings: Settings) -> None:
    """Fail before any banner when the trusted-documents manifest cannot be used (each process reads
    it again as it starts)."""
    if settings.trusted_documents is not None:
        try:
            load_manifest(settings.trusted_documents)
        except ManifestError as error:
            _fail(f"INBOX_TRUSTED_DOCUMENTS: {error}")


def _check_listen(settings: Settings, reuse_port: bool) -> None:
    """Fail before any banner when the listen address cannot be bound (in use, not ours, unknown host).
    The probe binds as aiohttp will (asyncio's create_server, every address of the host) and lets go."""

    async def probe() -> None:
        server = await asyncio.get_running_loop().create_server(
            asyncio.Protocol, settings.host, settings.port, reuse_port=reuse_port or None
        )
        server.close()
        await server.wait_closed()

    try:
        asyncio.run(probe())
    except OSError as error:
        # asyncio wraps the bind error in a long message; the errno's own text is the reason.
        reason = error.strerror if isinstance(error, socket.gaierror) or not error.errno else os.strerror(error.errno)
        _fail(f"cannot listen on {settings.host}:{settings.port}: {(reason or str(error)).lower()}")


def _amount(count: int, noun: str, plural: str | None = None) -> str:
    """`1 shop`, `2,000 creators`."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def _import(settings: Settings, path: str) -> None:
    from commands.platform_import import (
        InvalidImportFile,
        import_platform_data,
        load_import_file,
    )

    async def run() -> "ImportSummary":
        engine = create_engine(settings.database_url, pooler=settings.db_pooler)
        try:
            summary = await import_platform_data(engine, load_import_file(path))
        finally:
            await engine.dispose()
        await _announce_status_changes(settings, summary.changed_shop_ids)
        return summary

    try:
        summary = asyncio.run(run())
    except InvalidImportFile as error:
        sys.exit(f"import refused, nothing written: {error}")
    print(_import_sentence(summary))


def _import_sentence(summary: "ImportSummary") -> str:
    """E.g. `Imported 2 shops (1 new), 5 products, 3 creators; 1 shop changed status.`"""
    new = f" ({summary.new_shops:,} new)" if summary.new_shops else ""
    changed = len(summary.changed_shop_ids)
    status = f"; {_amount(changed, 'shop')} changed status" if changed else ""
    return (
        f"Imported {_amount(summary.shops, 'shop')}{new}, {_amount(summary.products, 'product')}, "
        f"{_amount(summary.creators, 'creator')}{status}."
    )


async def _announce_status_changes(settings: Settings, shop_ids: list[int]) -> None:
    """Tell running servers at once that shops changed status (needs Redis; else they poll)."""
    if not settings.redis_url or not shop_ids:
        return
    broker = create_broker(settings.redis_url, settings.redis_cluster)
    await broker.start()
    try:
        for shop_id in shop_ids:
            await broker.publish(SYSTEM_CHANNEL, {"type": "shop_status", "shop_id": shop_id})
    finally:
        await broker.close()


def _seed(settings: Settings, scale: int, reset: bool) -> None:
    """Migrate, then seed the demo into an empty database (or one `reset` empties first)."""
    from commands.demo import DatabaseNotEmpty, seed_demo
    from models.migrate import upgrade

    async def run() -> "DemoSummary":
        engine = create_engine(settings.database_url, pooler=settings.db_pooler)
        try:
            return await seed_demo(engine, scale=scale, reset=reset)
        finally:
            await engine.dispose()

    upgrade(settings.database_url)
    started = time.monotonic()
    try:
        summary = asyncio.run(run())
    except DatabaseNotEmpty:
        _fail(
            "seed-demo refused: the database already holds shops or creators; "
            "`seed-demo --reset` deletes all its data first"
        )
    print(_seed_sentence(summary, time.monotonic() - started))


def _seed_sentence(summary: "DemoSummary", seconds: float) -> str:
    """E.g. `Seeded 7 shops, 53 products, 2,000 creators, ... in 2.1 s.`"""
    parts = [
        _amount(summary.shop, "shop"),
        _amount(summary.product, "product"),
        _amount(summary.creator, "creator"),
        _amount(summary.conversation, "conversation"),
        _amount(summary.message, "message"),
        _amount(summary.target_collaboration, "collaboration"),
        _amount(summary.sample_request, "sample request"),
        _amount(summary.block, "block"),
        _amount(summary.outreach_unit, "outreach unit"),
    ]
    return f"Seeded {', '.join(parts[:-1])} and {parts[-1]} in {seconds:.1f} s."


def _migrate(settings: Settings) -> None:
    from models.migrate import migrate

    before, after = migrate(settings.database_url)
    if before == after:
        print(f"Database up to date at {after}.")
    else:
        print(f"Database migrated from {before} to {after}." if before else f"Empty database migrated to {after}.")


def _configure_logging(verbose: bool = False) -> None:
    """One line per record, the message alone (the operation log is JSON). Log records skip the
    thread, process and process name that format never shows (the logging HOWTO's "Optimization").
    Alembic's step-by-step INFO lines only with --verbose: the commands say what they did in one sentence."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


def _add_serve_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """Options of `serve`, accepted before the command too (`server.py --port 8123`). Only the main
    parser sets defaults: a subcommand's defaults would overwrite what was given before the command."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--host", default=default(None), help="listen address (default INBOX_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default(None), help="listen port (default INBOX_PORT or 8000)")
    parser.add_argument(
        "--no-demo", action="store_true", default=default(False), help="do not seed a demo into an empty database"
    )
    parser.add_argument(
        "--workers", type=int, default=default(1), help="server processes on the port (needs REDIS_URL)"
    )


def _scale(value: str) -> int:
    from commands.demo import MAX_SCALE

    try:
        scale = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if not 1 <= scale <= MAX_SCALE:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_SCALE}")
    return scale


def _parser() -> argparse.ArgumentParser:
    """`-v` is accepted before the command and after it (default SUPPRESS there, as for serve's options)."""
    verbose_help = "also show the migration steps (Alembic's log)"
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help)
    parser = argparse.ArgumentParser(prog="server.py", description="Seller-creator inbox GraphQL API")
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    _add_serve_options(parser, defaults=True)
    commands = parser.add_subparsers(dest="command")
    serve_cmd = commands.add_parser("serve", parents=[verbose], help="run the server (the default)")
    _add_serve_options(serve_cmd, defaults=False)
    commands.add_parser("migrate", parents=[verbose], help="apply the database migrations")
    import_cmd = commands.add_parser(
        "import", parents=[verbose], help="upsert shops, creators and products from a JSON file"
    )
    import_cmd.add_argument("file")
    token_cmd = commands.add_parser("token", help="print a bearer token for shop:<id> or creator:<id>")
    token_cmd.add_argument("subject")
    token_cmd.add_argument(
        "--ttl", type=int, help="seconds the token stays valid (default and most: INBOX_MAX_TOKEN_TTL_SECONDS)"
    )
    seed_cmd = commands.add_parser(
        "seed-demo", parents=[verbose], help="migrate, then fill an empty database with demo data"
    )
    seed_cmd.add_argument("--scale", type=_scale, default=1, help="1 gives about 15,000 messages")
    seed_cmd.add_argument("--reset", action="store_true", help="delete all the database's data first")
    commands.add_parser("export-schema", help="write schema.graphql from the code")
    return parser


def _serve_settings(settings: Settings, args: argparse.Namespace) -> Settings:
    """The flags override INBOX_HOST / INBOX_PORT."""
    flags = {"host": args.host, "port": args.port}
    return dataclasses.replace(settings, **{key: value for key, value in flags.items() if value is not None})


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    settings = Settings.from_env()
    if args.command in (None, "serve"):
        serve(_serve_settings(settings, args), seed_demo=not args.no_demo, workers=args.workers)
    elif args.command == "migrate":
        _migrate(settings)
    elif args.command == "import":
        _import(settings, args.file)
    elif args.command == "token":
        try:
            ttl = settings.max_token_ttl_seconds if args.ttl is None else args.ttl
            print(issue_token(resolve_secret(settings), args.subject, ttl, settings.max_token_ttl_seconds))
        except ValueError as error:
            sys.exit(f"token: {error}")
    elif args.command == "seed-demo":
        _seed(settings, args.scale, args.reset)
    elif args.command == "export-schema":
        export_schema()


if __name__ == "__main__":
    main()
