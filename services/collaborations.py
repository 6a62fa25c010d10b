"""Target collaborations: a shop's commission offer on some of its products."""

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Row, insert, select

from core.errors import invalid
from core.text import NAME
from core.viewer import Viewer
from models.tables import collaboration_product_t, collaboration_t, product_t
from models.types import utcnow
from services.runtime import Runtime

MIN_COMMISSION, MAX_COMMISSION = "0.01", "0.80"

MAX_PRODUCTS = 50


def _check(name: str, product_ids: list[int], rate: Decimal | str) -> tuple[str, Decimal]:
    name = name.strip()
    if not 1 <= len(name) <= NAME.max_length:
        raise invalid(f"The name must be 1 to {NAME.max_length} characters.", ["input", "name"])
    if not 1 <= len(product_ids) <= MAX_PRODUCTS or len(set(product_ids)) != len(product_ids):
        raise invalid(f"Give 1 to {MAX_PRODUCTS} different products.", ["input", "productIds"])
    try:
        value: Decimal | None = Decimal(rate)
    except (InvalidOperation, TypeError, ValueError):
        value = None
    # A value within the bounds is finite, so its exponent is a number.
    if (
        value is None
        or not Decimal(MIN_COMMISSION) <= value <= Decimal(MAX_COMMISSION)
        or int(value.as_tuple().exponent) < -4
    ):
        raise invalid(
            f"The commission rate must be from {MIN_COMMISSION} to {MAX_COMMISSION}.", ["input", "commissionRate"]
        )
    return name, value


async def create_collaboration(
    rt: Runtime, viewer: Viewer, name: str, product_ids: list[int], rate: Decimal | str
) -> Row[Any]:
    """An ACTIVE collaboration over the shop's own products."""
    name, commission_rate = _check(name, product_ids, rate)
    async with rt.engine.begin() as conn:
        owned = set(
            (
                await conn.execute(
                    select(product_t.c.id).where(product_t.c.id.in_(product_ids), product_t.c.shop_id == viewer.shop_id)
                )
            ).scalars()
        )
        if owned != set(product_ids):
            raise invalid("Every product must be one of your shop's products.", ["input", "productIds"])
        collaboration = (
            await conn.execute(
                insert(collaboration_t)
                .values(
                    shop_id=viewer.shop_id,
                    name=name,
                    commission_rate=commission_rate,
                    status="ACTIVE",
                    created_at=utcnow(),
                )
                .returning(*collaboration_t.c)
            )
        ).one()
        await conn.execute(
            insert(collaboration_product_t),
            [
                {"collaboration_id": collaboration.id, "product_id": pid, "position": i}
                for i, pid in enumerate(product_ids)
            ],
        )
    return collaboration
