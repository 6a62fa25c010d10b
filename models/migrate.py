"""Apply the Alembic migrations in `migrations/` to a database."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from models.database import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str) -> None:
    """Bring the database to the newest revision (blocking; env.py runs its own loop)."""
    command.upgrade(alembic_config(database_url), "head")


def migrate(database_url: str) -> tuple[str | None, str | None]:
    """Upgrade to the newest revision; the revisions before and after (None: no migration applied yet)."""
    before = current_revision(database_url)
    upgrade(database_url)
    return before, current_revision(database_url)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, as Alembic's version table records it (blocking)."""

    async def read() -> str | None:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
        finally:
            await engine.dispose()

    return asyncio.run(read())
