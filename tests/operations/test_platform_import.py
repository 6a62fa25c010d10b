"""Importing shops, creators and products from the commerce platform."""

import dataclasses
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from commands.platform_import import (
    InvalidImportFile,
    import_platform_data,
    load_import_file,
    parse_import_data,
)
from models.tables import creator_t, product_t, shop_t


def _data() -> dict:
    return {
        "shops": [
            {
                "platformId": "s1",
                "name": "Glow Lab",
                "status": "ACTIVE",
                "affiliateGmv30d": "48250.00",
                "products": [
                    {
                        "platformId": "p1",
                        "title": "Vitamin C Serum",
                        "price": "19.99",
                        "currency": "USD",
                        "imageUrl": None,
                    },
                    {
                        "platformId": "p2",
                        "title": "Lip Oil",
                        "price": 12.5,
                        "currency": "USD",
                        "imageUrl": "https://cdn.example.com/p2.jpg",
                    },
                ],
            },
            {
                "platformId": "s2",
                "name": "Trail Co.",
                "status": "ACTIVE",
                "affiliateGmv30d": 900,
                "products": [{"platformId": "p3", "title": "Headlamp", "price": "30", "currency": "EUR"}],
            },
        ],
        "creators": [
            {
                "platformId": f"c{n}",
                "handle": f"creator{n}",
                "displayName": f"Creator {n}",
                "avatarUrl": None,
                "followerCount": 1000 * n,
                "mainCategory": "Beauty",
                "gmv30d": f"{n * 10}.50",
            }
            for n in range(1, 4)
        ],
    }


async def _snapshot(engine) -> dict:
    """Every imported row, without the update times."""
    async with engine.connect() as conn:
        s, c, p = shop_t.c, creator_t.c, product_t.c
        shops = (
            await conn.execute(select(s.platform_id, s.id, s.name, s.status, s.affiliate_gmv_30d).order_by(s.id))
        ).all()
        creators = (
            await conn.execute(
                select(
                    c.platform_id,
                    c.id,
                    c.handle,
                    c.display_name,
                    c.avatar_url,
                    c.follower_count,
                    c.main_category,
                    c.gmv_30d,
                ).order_by(c.id)
            )
        ).all()
        products = (
            await conn.execute(
                select(p.platform_id, p.id, p.shop_id, p.title, p.price, p.currency, p.image_url).order_by(p.id)
            )
        ).all()
    return {
        "shops": {row[0]: row[1:] for row in shops},
        "creators": {row[0]: row[1:] for row in creators},
        "products": {row[0]: row[1:] for row in products},
    }


async def test_import_creates_everything(engine):
    summary = await import_platform_data(engine, _data())

    assert (summary.shops, summary.creators, summary.products, summary.changed_shop_ids) == (2, 3, 3, [])
    rows = await _snapshot(engine)
    s1, s2 = rows["shops"]["s1"][0], rows["shops"]["s2"][0]
    assert rows["shops"]["s1"][1:] == ("Glow Lab", "ACTIVE", Decimal("48250.00"))
    assert rows["shops"]["s2"][3] == Decimal("900.00")
    assert rows["products"]["p2"][1:] == (s1, "Lip Oil", Decimal("12.50"), "USD", "https://cdn.example.com/p2.jpg")
    assert rows["products"]["p3"][1:] == (s2, "Headlamp", Decimal("30.00"), "EUR", None)
    assert rows["creators"]["c2"][1:] == ("creator2", "Creator 2", None, 2000, "Beauty", Decimal("20.50"))


async def test_reimport_updates_changed_values(engine):
    await import_platform_data(engine, _data())
    before = await _snapshot(engine)
    changed = _data()
    changed["shops"][0].update(status="SUSPENDED", affiliateGmv30d="51000.10")
    changed["shops"][1].update(name="Trail Company")
    changed["shops"][1]["products"].append(changed["shops"][0]["products"].pop())  # p2 moves to s2
    changed["creators"][0].update(followerCount=15000, gmv30d="99.99", avatarUrl="https://cdn.example.com/c1.jpg")
    changed["creators"].append(
        {
            "platformId": "c9",
            "handle": "new",
            "displayName": "New One",
            "followerCount": 5,
            "mainCategory": "Tech",
            "gmv30d": 0,
        }
    )

    summary = await import_platform_data(engine, changed)

    after = await _snapshot(engine)
    s1, s2 = before["shops"]["s1"][0], before["shops"]["s2"][0]
    assert summary.changed_shop_ids == [s1]
    assert (summary.shops, summary.creators, summary.products) == (2, 4, 3)
    assert after["shops"]["s1"] == (s1, "Glow Lab", "SUSPENDED", Decimal("51000.10"))
    assert after["shops"]["s2"][:2] == (s2, "Trail Company")
    assert after["products"]["p2"][:2] == (before["products"]["p2"][0], s2)
    assert after["creators"]["c1"][3:5] == ("https://cdn.example.com/c1.jpg", 15000)
    assert after["creators"]["c1"][6] == Decimal("99.99")
    assert after["creators"]["c1"][0] == before["creators"]["c1"][0]
    assert after["creators"]["c9"][1:] == ("new", "New One", None, 5, "Tech", Decimal("0.00"))


async def test_second_import_changes_nothing(engine):
    data = _data()
    data["creators"] += [
        {
            "platformId": f"bulk{n}",
            "handle": f"h{n}",
            "displayName": "Bulk",
            "followerCount": n,
            "mainCategory": "Food",
            "gmv30d": "1.00",
        }
        for n in range(2500)
    ]  # more than one batch
    first = await import_platform_data(engine, data)
    before = await _snapshot(engine)

    second = await import_platform_data(engine, data)

    assert await _snapshot(engine) == before
    assert first.new_shops == len(data["shops"])
    assert second == dataclasses.replace(first, new_shops=0)  # the same counts; no shop is new the second time
    assert len(before["creators"]) == 2503


def _bad(path: str, value) -> dict:
    """_data() with the field at `path` (e.g. "shops.0.status") set to `value`; `...` removes it."""
    data = _data()
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is ...:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("shops.1.status", "OPEN", 'shops[1].status (platformId "s2"): must be one of ACTIVE, SUSPENDED, CLOSED'),
        ("shops.0.name", ..., 'shops[0].name (platformId "s1"): is required'),
        ("shops.0.name", "  ", 'shops[0].name (platformId "s1"): must be a non-empty string'),
        ("shops.0.name", "x" * 201, 'shops[0].name (platformId "s1"): must be at most 200 characters'),
        ("shops.0.affiliateGmv30d", "-1", "must be between 0 and"),
        ("shops.0.affiliateGmv30d", "1.005", 'shops[0].affiliateGmv30d (platformId "s1"): must have at most 2 decimal'),
        ("shops.0.affiliateGmv30d", "lots", "must be a decimal number, not 'lots'"),
        ("shops.0.affiliateGmv30d", True, "must be a decimal number or string"),
        ("shops.0.products", {"p": 1}, "shops[0].products: must be a list"),
        (
            "shops.0.products.1.currency",
            "usd",
            'shops[0].products[1].currency (platformId "p2"): must be 3 uppercase letters',
        ),
        ("shops.0.products.0.imageUrl", "ftp://x", 'shops[0].products[0].imageUrl (platformId "p1"): must be an http'),
        ("shops.0.products.0", "p1", "shops[0].products[0]: must be an object"),
        ("creators.2.followerCount", -5, 'creators[2].followerCount (platformId "c3"): must be a non-negative integer'),
        ("creators.2.followerCount", 12.5, "creators[2].followerCount"),
        ("creators.0.platformId", 7, "creators[0].platformId: must be a non-empty string"),
        ("creators.1.handle", "h" * 101, 'creators[1].handle (platformId "c2"): must be at most 100 characters'),
        ("creators.1.followers", 10, 'creators[1].followers (platformId "c2"): unknown field'),
        ("creators", "all", "creators: must be a list"),
        ("version", 2, "version: unknown field"),
    ],
)
def test_invalid_record_is_named(path, value, message):
    with pytest.raises(InvalidImportFile) as raised:
        parse_import_data(_bad(path, value))
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("shops.1.platformId", "s1", 'shops[1] (platformId "s1"): duplicate shop platformId, first used at shops[0]'),
        (
            "creators.2.platformId",
            "c1",
            'creators[2] (platformId "c1"): duplicate creator platformId, first used at creators[0]',
        ),
        (
            "shops.1.products.0.platformId",
            "p1",
            'shops[1].products[0] (platformId "p1"): duplicate product platformId, first used at shops[0].products[0]',
        ),
    ],
)
def test_duplicate_platform_ids_are_rejected(path, value, message):
    with pytest.raises(InvalidImportFile) as raised:
        parse_import_data(_bad(path, value))
    assert str(raised.value) == message


def test_every_error_is_listed():
    data = _bad("shops.1.status", "OPEN")
    data["creators"][0]["followerCount"] = "many"
    data["creators"][1]["gmv30d"] = "-3"

    with pytest.raises(InvalidImportFile) as raised:
        parse_import_data(data)

    assert [error.split(":")[0] for error in raised.value.errors] == [
        'shops[1].status (platformId "s2")',
        'creators[0].followerCount (platformId "c1")',
        'creators[1].gmv30d (platformId "c2")',
    ]


async def test_invalid_file_writes_nothing(engine):
    await import_platform_data(engine, _data())
    before = await _snapshot(engine)
    data = _data()
    data["shops"][0]["status"] = "CLOSED"  # a valid change in an invalid file
    data["creators"].append(
        {
            "platformId": "c7",
            "handle": "x",
            "displayName": "X",
            "followerCount": -1,
            "mainCategory": "Tech",
            "gmv30d": "0",
        }
    )
    data["shops"][1]["products"].append({"platformId": "p9", "title": "T", "price": "1", "currency": "USD"})
    data["shops"].append({"platformId": "s3", "name": "New", "status": "GONE", "affiliateGmv30d": "1"})

    with pytest.raises(InvalidImportFile) as raised:
        await import_platform_data(engine, data)

    assert 'creators[3].followerCount (platformId "c7")' in str(raised.value)
    assert 'shops[2].status (platformId "s3")' in str(raised.value)
    assert await _snapshot(engine) == before
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(product_t)) == 3


def test_load_import_file_keeps_decimals_exact(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(
        json.dumps({"shops": [{"platformId": "s1", "name": "A", "status": "ACTIVE", "affiliateGmv30d": 1234567890.1}]})
    )

    data = load_import_file(path)

    assert data["shops"][0]["affiliateGmv30d"] == Decimal("1234567890.1")
    assert parse_import_data(data).shops[0]["affiliate_gmv_30d"] == Decimal("1234567890.10")


def test_load_import_file_rejects_broken_json(tmp_path):
    path = tmp_path / "export.json"
    path.write_text('{"shops": [')
    with pytest.raises(InvalidImportFile, match="not valid JSON"):
        load_import_file(path)
