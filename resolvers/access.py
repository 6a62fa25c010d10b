"""Role checks for root fields meant for one role."""

from core.errors import Forbidden
from resolvers.context import Context


def require_seller(ctx: Context, what: str) -> None:
    if not ctx.viewer.is_seller:
        raise Forbidden(f"{what} is for sellers only.")


def require_creator(ctx: Context, what: str) -> None:
    if ctx.viewer.is_seller:
        raise Forbidden(f"{what} is for creators only.")
