"""A small, known world imported through the platform import: shops, creators, products."""

from commands.platform_import import import_platform_data

CATEGORIES = ["Beauty", "Fashion", "Tech", "Food"]


def world_data(creators: int = 40) -> dict:
    return {
        "shops": [
            {
                "platformId": "s1",
                "name": "Glow Lab",
                "status": "ACTIVE",
                "affiliateGmv30d": "500.00",
                "products": [
                    {
                        "platformId": f"p{i}",
                        "title": f"Serum {i}",
                        "price": "19.99",
                        "currency": "USD",
                        "imageUrl": None,
                    }
                    for i in (1, 2, 3)
                ],
            },
            {
                "platformId": "s2",
                "name": "Trail Gear",
                "status": "ACTIVE",
                "affiliateGmv30d": "50000.00",
                "products": [
                    {"platformId": "p4", "title": "Tent", "price": "199.00", "currency": "USD", "imageUrl": None}
                ],
            },
            {
                "platformId": "s3",
                "name": "Closed Shop",
                "status": "SUSPENDED",
                "affiliateGmv30d": "10.00",
                "products": [
                    {"platformId": "p5", "title": "Mug", "price": "9.00", "currency": "USD", "imageUrl": None}
                ],
            },
        ],
        "creators": [
            {
                "platformId": f"c{i}",
                "handle": f"creator{i}",
                "displayName": f"Creator Number {i}",
                "avatarUrl": f"https://img.example/c{i}.png",
                "followerCount": 1000 * i,
                "mainCategory": CATEGORIES[i % len(CATEGORIES)],
                "gmv30d": f"{100 * i}.00",
            }
            for i in range(1, creators + 1)
        ],
    }


async def build_world(engine, creators: int = 40) -> None:
    await import_platform_data(engine, world_data(creators))


async def build_world_at(url: str) -> None:
    """`build_world` in the migrated database at `url`, through an engine of its own (for the
    databases of server processes)."""
    from models.database import create_engine

    engine = create_engine(url)
    try:
        await build_world(engine)
    finally:
        await engine.dispose()


async def fresh_world_at(url: str) -> None:
    """Empty every table of the PostgreSQL database at `url` (ids restart at 1) and build the world again."""
    from sqlalchemy import text

    from models import metadata
    from models.database import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await build_world(engine)
    finally:
        await engine.dispose()


def sqlite_world(directory) -> str:
    """The URL of a migrated SQLite database in `directory` holding the world (for server processes)."""
    import asyncio

    from models.migrate import upgrade

    url = f"sqlite+aiosqlite:///{directory / 'inbox.db'}"
    upgrade(url)
    asyncio.run(build_world_at(url))
    return url


# --- Write side helpers ---------------------------------------------------------------------------


async def set_shop_status(engine, platform_id: str, status: str, creators: int = 40) -> None:
    """Re-import the world with one shop's status changed, as the platform sync would."""
    data = world_data(creators)
    for shop in data["shops"]:
        if shop["platformId"] == platform_id:
            shop["status"] = status
    await import_platform_data(engine, data)


async def end_collaboration(engine, collaboration_pk: int) -> None:
    """Mark a target collaboration ENDED (the API has no mutation for it)."""
    from sqlalchemy import update

    from models.tables import collaboration_t

    async with engine.begin() as conn:
        await conn.execute(
            update(collaboration_t).where(collaboration_t.c.id == collaboration_pk).values(status="ENDED")
        )


async def db_snapshot(engine) -> dict[str, list]:
    """Every row of every application table, sorted: equal snapshots mean nothing was written."""
    from sqlalchemy import select

    from models import metadata

    snapshot = {}
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = (await conn.execute(select(table))).all()
            snapshot[table.name] = sorted(tuple(repr(value) for value in row) for row in rows)
    return snapshot


def row_counts(snapshot: dict[str, list]) -> dict[str, int]:
    return {name: len(rows) for name, rows in snapshot.items()}


class unchanged:
    """`async with unchanged(engine):` asserts that the block wrote nothing to the database."""

    def __init__(self, engine):
        self.engine = engine

    async def __aenter__(self):
        self.before = await db_snapshot(self.engine)
        return self

    async def __aexit__(self, exc_type, *_):
        if exc_type is None:
            after = await db_snapshot(self.engine)
            assert row_counts(after) == row_counts(self.before)
            assert after == self.before, "a refused mutation changed the database"
        return False


# --- Read side helpers ----------------------------------------------------------------------------


def creators_matching(flt: dict | None, creators: int = 40, among=None) -> list[str]:
    """Platform ids of the world's creators (or of `among`, a list of creator numbers) that a
    CreatorFilter input matches, computed independently of the API: bounds inclusive, any of
    the categories, search a case-insensitive substring of handle or displayName."""
    from decimal import Decimal

    flt = flt or {}
    numbers = set(among) if among is not None else None
    found = []
    for creator in world_data(creators)["creators"]:
        if numbers is not None and int(creator["platformId"][1:]) not in numbers:
            continue
        followers, gmv = creator["followerCount"], Decimal(creator["gmv30d"])
        needle = (flt.get("search") or "").lower()
        if (
            (flt.get("minFollowers") is None or followers >= flt["minFollowers"])
            and (flt.get("maxFollowers") is None or followers <= flt["maxFollowers"])
            and (flt.get("categories") is None or creator["mainCategory"] in flt["categories"])
            and (flt.get("minGmv") is None or gmv >= Decimal(flt["minGmv"]))
            and (flt.get("maxGmv") is None or gmv <= Decimal(flt["maxGmv"]))
            and (needle in creator["handle"].lower() or needle in creator["displayName"].lower())
        ):
            found.append(creator["platformId"])
    return found
