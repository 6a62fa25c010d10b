"""The inbox API server: app factory and command line.

    python server.py                 serve (SQLite by default; migrates and seeds a demo on first start)
    python server.py migrate         apply the database migrations
    python server.py import FILE     upsert shops, creators and products from a platform export
    python server.py token SUBJECT   print a bearer token, e.g. `token shop:s1`
    python server.py seed-demo       fill the database with demo data
    python server.py export-schema   write schema.graphql from the code
"""

import argparse
import asyncio
import gc
import logging
import multiprocessing
import signal
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp_cors
from aiohttp import WSCloseCode, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from models.database import create_engine
from services.runtime import Runtime
from schema import schema
from schema.build import build_schema
from schema.limits import Limits
from schema.view import InboxView
from services.auth import issue_token, resolve_secret
from services.config import Settings
from services.ratelimit import Bucket, create_rate_limits
from subscriptions import SYSTEM_CHANNEL, create_broker

ROOT = Path(__file__).resolve().parent
APP_STATE = web.AppKey("app_state", Runtime)
log = logging.getLogger("inbox")


def create_app(settings: Settings) -> web.Application:
    """The aiohttp application; the engine, broker and rate limiter live as long as the app."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    rate_limits = create_rate_limits(settings.redis_url, Bucket(settings.query_burst, settings.query_rate),
                                     Bucket(settings.mutation_burst, settings.mutation_rate))
    state = Runtime(settings=settings, engine=create_engine(settings.database_url, settings.db_pool_size),
                    secret=resolve_secret(settings), broker=create_broker(settings.redis_url),
                    rate_limits=rate_limits)
    app[APP_STATE] = state

    async def lifetime(_app):
        await state.broker.start()
        await state.sockets.start()
        yield
        await state.sockets.close()
        await state.broker.close()
        await state.rate_limits.close()
        await state.engine.dispose()

    app.cleanup_ctx.append(lifetime)
    app.on_shutdown.append(_close_websockets)
    limits = Limits(settings.max_depth, settings.max_aliases, settings.max_tokens, settings.max_cost)
    view = InboxView(build_schema(limits, settings.production), state,
                     graphql_ide=None if settings.production else "graphiql",
                     max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
                     connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds))
    graphql_routes = [app.router.add_get("/graphql", view), app.router.add_post("/graphql", view)]
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    if settings.cors_origins:
        cors = aiohttp_cors.setup(app, defaults={origin: aiohttp_cors.ResourceOptions(
            allow_headers=("Authorization", "Content-Type", "X-Request-Id")) for origin in settings.cors_origins})
        for route in graphql_routes:
            cors.add(route)
    return app


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
    from services.demo import database_is_empty, seed_demo

    from models.migrate import upgrade  # Alembic is only needed here and by `migrate`: keep it out of servers

    await asyncio.to_thread(upgrade, settings.database_url)
    engine = create_engine(settings.database_url)
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
    print(f"\nGraphiQL: {base}")
    for who, subject in (("demo seller (shop s1)", "shop:s1"), ("demo creator (c1)", "creator:c1")):
        print(f"  {who}: {{\"Authorization\": \"Bearer {issue_token(secret, subject, 7 * 86_400)}\"}}")
    print()


def _run_worker(settings: Settings, reuse_port: bool) -> None:
    """One server process on uvloop (when installed)."""
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    app = create_app(settings)
    app.on_startup.append(_tune_gc)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None,
                reuse_port=reuse_port, loop=loop, shutdown_timeout=settings.shutdown_grace_seconds)


# Each young-generation collection walks the objects of every request in flight (32 under the
# benchmark's load); at CPython's default threshold of 700 net allocations that cost 5 % of the
# CPU of a messages page (server CPU per request 1.19 -> 1.13 ms, 830 -> 880 req/s, in three
# alternating runs each). Older generations are collected less often in step.
GC_YOUNG_THRESHOLD = 10_000


async def _tune_gc(_app: web.Application) -> None:
    """Move everything built at startup (schema, SQLAlchemy metadata, modules) out of the
    garbage collector's reach, so full collections walk only what requests and connections
    created (walking the startup heap alone took 95 ms), and collect the young generation
    less often (see GC_YOUNG_THRESHOLD)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def serve(settings: Settings, seed_demo: bool, workers: int = 1) -> None:
    """Serve with `workers` processes sharing the port (SO_REUSEPORT); several need Redis."""
    if workers > 1 and not settings.redis_url:
        sys.exit("--workers above 1 needs REDIS_URL, so that live events reach every process.")
    if settings.is_sqlite:
        asyncio.run(_prepare_embedded(settings, seed_demo))
        _print_welcome(settings)
    if workers == 1:
        _run_worker(settings, reuse_port=False)
        return
    processes = [multiprocessing.Process(target=_run_worker, args=(settings, True)) for _ in range(workers)]
    for process in processes:
        process.start()
    signal.signal(signal.SIGTERM, lambda *_: [p.terminate() for p in processes])
    for process in processes:
        process.join()


def _import(settings: Settings, path: str) -> None:
    from services.platform_sync import InvalidImportFile, import_platform_data, load_import_file

    async def run():
        engine = create_engine(settings.database_url)
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
    print(f"imported {summary}")


async def _announce_status_changes(settings: Settings, shop_ids: list[int]) -> None:
    """Tell running servers at once that shops changed status (needs Redis; else they poll)."""
    if not settings.redis_url or not shop_ids:
        return
    broker = create_broker(settings.redis_url)
    await broker.start()
    try:
        for shop_id in shop_ids:
            await broker.publish(SYSTEM_CHANNEL, {"type": "shop_status", "shop_id": shop_id})
    finally:
        await broker.close()


def _seed(settings: Settings, scale: int) -> None:
    from services.demo import seed_demo

    async def run():
        engine = create_engine(settings.database_url)
        try:
            return await seed_demo(engine, scale=scale)
        finally:
            await engine.dispose()

    print(asyncio.run(run()))


def _configure_logging() -> None:
    """One line per record, the message alone (the operation log is JSON). Log records skip what
    that format never shows: the caller's frame, thread, process and process name (the logging
    HOWTO's "Optimization": a record costs 3.3 µs instead of 4.6)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="server.py", description="Seller-creator inbox GraphQL API")
    commands = parser.add_subparsers(dest="command")
    serve_cmd = commands.add_parser("serve", help="run the server (the default)")
    serve_cmd.add_argument("--no-demo", action="store_true", help="do not seed a demo into an empty database")
    serve_cmd.add_argument("--workers", type=int, default=1, help="server processes on the port (needs REDIS_URL)")
    parser.add_argument("--no-demo", action="store_true", help=argparse.SUPPRESS)
    commands.add_parser("migrate", help="apply the database migrations")
    import_cmd = commands.add_parser("import", help="upsert shops, creators and products from a JSON file")
    import_cmd.add_argument("file")
    token_cmd = commands.add_parser("token", help="print a bearer token for shop:<id> or creator:<id>")
    token_cmd.add_argument("subject")
    token_cmd.add_argument("--ttl", type=int, default=86_400, help="seconds the token stays valid")
    seed_cmd = commands.add_parser("seed-demo", help="fill the database with demo data")
    seed_cmd.add_argument("--scale", type=int, default=1)
    commands.add_parser("export-schema", help="write schema.graphql from the code")
    args = parser.parse_args(argv)

    _configure_logging()
    settings = Settings.from_env()
    if args.command in (None, "serve"):
        serve(settings, seed_demo=not args.no_demo, workers=getattr(args, "workers", 1))
    elif args.command == "migrate":
        from models.migrate import upgrade

        upgrade(settings.database_url)
    elif args.command == "import":
        _import(settings, args.file)
    elif args.command == "token":
        try:
            print(issue_token(resolve_secret(settings), args.subject, args.ttl))
        except ValueError as error:
            sys.exit(f"token: {error}")
    elif args.command == "seed-demo":
        _seed(settings, args.scale)
    elif args.command == "export-schema":
        export_schema()


if __name__ == "__main__":
    main()
