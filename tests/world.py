"""A small, known world imported through the platform import: shops, creators, products."""

from services.platform_sync import import_platform_data

CATEGORIES = ["Beauty", "Fashion", "Tech", "Food"]


def world_data(creators: int = 40) -> dict:
    return {
        "shops": [
            {"platformId": "s1", "name": "Glow Lab", "status": "ACTIVE", "affiliateGmv30d": "500.00",
             "products": [{"platformId": f"p{i}", "title": f"Serum {i}", "price": "19.99", "currency": "USD",
                           "imageUrl": None} for i in (1, 2, 3)]},
            {"platformId": "s2", "name": "Trail Gear", "status": "ACTIVE", "affiliateGmv30d": "50000.00",
             "products": [{"platformId": "p4", "title": "Tent", "price": "199.00", "currency": "USD",
                           "imageUrl": None}]},
            {"platformId": "s3", "name": "Closed Shop", "status": "SUSPENDED", "affiliateGmv30d": "10.00",
             "products": [{"platformId": "p5", "title": "Mug", "price": "9.00", "currency": "USD",
                           "imageUrl": None}]},
        ],
        "creators": [
            {"platformId": f"c{i}", "handle": f"creator{i}", "displayName": f"Creator Number {i}",
             "avatarUrl": f"https://img.example/c{i}.png", "followerCount": 1000 * i,
             "mainCategory": CATEGORIES[i % len(CATEGORIES)], "gmv30d": f"{100 * i}.00"}
            for i in range(1, creators + 1)
        ],
    }


async def build_world(engine, creators: int = 40) -> None:
    await import_platform_data(engine, world_data(creators))
