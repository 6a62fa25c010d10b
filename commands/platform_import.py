"""Import shops, creators and products from the commerce platform's JSON export.

The whole file is validated before anything is written; then every record is upserted,
keyed by its platform id, in one transaction, so a running server sees all or nothing.
"""

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Column, String, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.database import upsert
from models.tables import creator_t, product_t, shop_t
from models.types import utcnow
from services.search import index_creators

SHOP_STATUSES = ("ACTIVE", "SUSPENDED", "CLOSED")
BATCH_SIZE = 1000  # rows per executemany, ids per IN list (SQLite caps bound parameters)
MAX_LISTED_ERRORS = 20
_MAX_MONEY = Decimal(10) ** 12  # Numeric(14, 2) holds 12 integer digits
_MAX_INT = 2**31 - 1
_CURRENCY = re.compile(r"[A-Z]{3}")
_CENT = Decimal("0.01")

SHOPS, CREATORS, PRODUCTS = shop_t, creator_t, product_t


class InvalidImportFile(ValueError):
    """The import file breaks the format; `errors` lists every problem, each naming its record."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = "; ".join(errors[:MAX_LISTED_ERRORS])
        more = len(errors) - MAX_LISTED_ERRORS
        super().__init__(shown + (f"; and {more} more errors" if more > 0 else ""))


@dataclass
class ImportSummary:
    shops: int
    creators: int
    products: int
    # Shops that existed before and whose status the import changed.
    changed_shop_ids: list[int] = field(default_factory=list)
    new_shops: int = 0  # shops of the file that did not exist before


@dataclass
class ImportRows:
    """A validated import file as table rows."""

    shops: list[dict[str, Any]]
    creators: list[dict[str, Any]]
    products: list[tuple[str, dict[str, Any]]]  # (the shop's platform id, row without shop_id)


class _Bad(Exception):
    """A field value is invalid; the message says why."""


class _Field(NamedTuple):
    key: str
    column: str
    check: Callable[[Any], Any]
    required: bool = True


def _text(column: Column[Any]) -> Callable[[Any], str]:
    """A non-empty string that fits `column`."""
    assert isinstance(column.type, String) and column.type.length is not None, "a String(n) column"
    limit = column.type.length

    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _Bad("must be a non-empty string")
        if len(value) > limit:
            raise _Bad(f"must be at most {limit} characters")
        return value

    return check


def _url(column: Column[Any]) -> Callable[[Any], str]:
    """An http(s) URL that fits `column`."""
    text = _text(column)

    def check(value: Any) -> str:
        if not text(value).startswith(("https://", "http://")):
            raise _Bad("must be an http(s) URL")
        return value

    return check


def _money(value: Any) -> Decimal:
    """A decimal string or number, >= 0, with at most 2 decimal places."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise _Bad("must be a decimal number or string")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _Bad(f"must be a decimal number, not {value!r}") from None
    if not amount.is_finite() or amount < 0 or amount >= _MAX_MONEY:
        raise _Bad(f"must be between 0 and {_MAX_MONEY - _CENT}")
    if amount != amount.quantize(_CENT):
        raise _Bad("must have at most 2 decimal places")
    return amount.quantize(_CENT)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_INT:
        raise _Bad("must be a non-negative integer")
    return value


def _status(value: Any) -> str:
    if value not in SHOP_STATUSES:
        raise _Bad(f"must be one of {', '.join(SHOP_STATUSES)}")
    return value


def _currency(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise _Bad("must be 3 uppercase letters")
    return value


def _platform_id(table: Table) -> _Field:
    return _Field("platformId", "platform_id", _text(table.c.platform_id))


_SHOP_FIELDS = (
    _platform_id(SHOPS),
    _Field("name", "name", _text(SHOPS.c.name)),
    _Field("status", "status", _status),
    _Field("affiliateGmv30d", "affiliate_gmv_30d", _money),
)
_PRODUCT_FIELDS = (
    _platform_id(PRODUCTS),
    _Field("title", "title", _text(PRODUCTS.c.title)),
    _Field("price", "price", _money),
    _Field("currency", "currency", _currency),
    _Field("imageUrl", "image_url", _url(PRODUCTS.c.image_url), required=False),
)
_CREATOR_FIELDS = (
    _platform_id(CREATORS),
    _Field("handle", "handle", _text(CREATORS.c.handle)),
    _Field("displayName", "display_name", _text(CREATORS.c.display_name)),
    _Field("avatarUrl", "avatar_url", _url(CREATORS.c.avatar_url), required=False),
    _Field("followerCount", "follower_count", _count),
    _Field("mainCategory", "main_category", _text(CREATORS.c.main_category)),
    _Field("gmv30d", "gmv_30d", _money),
)


class _Validator:
    """Collects every error of a file while turning its records into rows."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._seen: dict[str, dict[str, str]] = {"shop": {}, "creator": {}, "product": {}}

    def items(self, value: Any, where: str) -> list[Any]:
        """The list at `where` (missing means empty)."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.errors.append(f"{where}: must be a list")
            return []
        return value

    def record(
        self, raw: Any, where: str, kind: str, fields: tuple[_Field, ...], nested: tuple[str, ...] = ()
    ) -> dict[str, Any] | None:
        """One record as a row, or None after logging its errors."""
        if not isinstance(raw, dict):
            self.errors.append(f"{where}: must be an object")
            return None
        pid = raw.get("platformId")
        label = f' (platformId "{pid}")' if isinstance(pid, str) else ""
        before = len(self.errors)
        known = {f.key for f in fields} | set(nested)
        self.errors += [f"{where}.{key}{label}: unknown field" for key in raw if key not in known]
        row: dict[str, Any] = {}
        for f in fields:
            value = raw.get(f.key)
            if value is None and not f.required:
                row[f.column] = None
            elif value is None:
                self.errors.append(f"{where}.{f.key}{label}: is required")
            else:
                try:
                    row[f.column] = f.check(value)
                except _Bad as bad:
                    self.errors.append(f"{where}.{f.key}{label}: {bad}")
        self._check_unique(row.get("platform_id"), where, kind, label)
        return row if len(self.errors) == before else None

    def _check_unique(self, pid: str | None, where: str, kind: str, label: str) -> None:
        if pid is None:
            return
        first = self._seen[kind].setdefault(pid, where)
        if first != where:
            self.errors.append(f"{where}{label}: duplicate {kind} platformId, first used at {first}")


def parse_import_data(data: Any) -> ImportRows:
    """Validate a whole import file; raise InvalidImportFile listing every bad record."""
    if not isinstance(data, dict):
        raise InvalidImportFile(["the file must hold a JSON object"])
    v = _Validator()
    v.errors += [f"{key}: unknown field" for key in data if key not in ("shops", "creators")]
    rows = ImportRows([], [], [])
    for i, raw in enumerate(v.items(data.get("shops"), "shops")):
        shop = v.record(raw, f"shops[{i}]", "shop", _SHOP_FIELDS, nested=("products",))
        raw_products = raw.get("products") if isinstance(raw, dict) else None
        for j, raw_product in enumerate(v.items(raw_products, f"shops[{i}].products")):
            product = v.record(raw_product, f"shops[{i}].products[{j}]", "product", _PRODUCT_FIELDS)
            if product is not None and shop is not None:
                rows.products.append((shop["platform_id"], product))
        if shop is not None:
            rows.shops.append(shop)
    for i, raw in enumerate(v.items(data.get("creators"), "creators")):
        creator = v.record(raw, f"creators[{i}]", "creator", _CREATOR_FIELDS)
        if creator is not None:
            rows.creators.append(creator)
    if v.errors:
        raise InvalidImportFile(v.errors)
    return rows


def load_import_file(path: str | Path) -> Any:
    """Read an import file; decimals are kept exact (no float round trip)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise InvalidImportFile([f"{path}: not valid JSON: {error}"]) from None
    except UnicodeDecodeError as error:
        raise InvalidImportFile([f"{path}: not UTF-8 text: {error}"]) from None
    except OSError as error:
        raise InvalidImportFile([f"{path}: cannot be read: {error.strerror or error}"]) from None


async def import_platform_data(engine: AsyncEngine, data: Any) -> ImportSummary:
    """Validate `data`, then upsert all of it in one transaction."""
    rows = parse_import_data(data)
    async with engine.begin() as conn:
        return await apply_import(conn, rows)


async def apply_import(conn: AsyncConnection, rows: ImportRows) -> ImportSummary:
    """Upsert validated rows inside the caller's transaction."""
    now = utcnow()
    platform_ids = [shop["platform_id"] for shop in rows.shops]
    before = await _shop_column(conn, SHOPS.c.status, platform_ids)
    await _upsert_all(conn, SHOPS, [{**shop, "updated_at": now} for shop in rows.shops])
    shop_ids = await _shop_column(conn, SHOPS.c.id, platform_ids)
    await _upsert_all(conn, CREATORS, [{**creator, "updated_at": now} for creator in rows.creators])
    await index_creators(conn, rows.creators)
    # A product whose platform id belonged to another shop moves: shop_id is updated too.
    await _upsert_all(
        conn,
        PRODUCTS,
        [{**product, "shop_id": shop_ids[shop_platform_id]} for shop_platform_id, product in rows.products],
    )
    changed = sorted(
        shop_ids[shop["platform_id"]]
        for shop in rows.shops
        if before.get(shop["platform_id"], shop["status"]) != shop["status"]
    )
    new_shops = sum(shop["platform_id"] not in before for shop in rows.shops)
    return ImportSummary(len(rows.shops), len(rows.creators), len(rows.products), changed, new_shops)


T = TypeVar("T")


def _batches(items: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(items), BATCH_SIZE):
        yield items[start : start + BATCH_SIZE]


async def _shop_column(conn: AsyncConnection, column: Column[Any], platform_ids: list[str]) -> dict[str, Any]:
    """platform id -> `column` of the shops with these platform ids that exist."""
    found: dict[str, Any] = {}
    for batch in _batches(platform_ids):
        query = select(SHOPS.c.platform_id, column).where(SHOPS.c.platform_id.in_(batch))
        found.update((await conn.execute(query)).all())
    return found


async def _upsert_all(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Upsert rows keyed by platform_id, updating every other column.

    One statement of bind parameters runs for each batch of rows (an executemany): it is
    compiled once, where a multi-row VALUES would be compiled again for every batch."""
    if not rows:
        return
    columns = list(rows[0])
    stmt = upsert(
        conn,
        table,
        [{name: bindparam(name) for name in columns}],
        "platform_id",
        [name for name in columns if name != "platform_id"],
    )
    for batch in _batches(rows):
        await conn.execute(stmt, batch)
