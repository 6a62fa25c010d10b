"""Blocks: a seller blocking and unblocking a creator, a creator blocking and unblocking a shop."""

from typing import Protocol

from core.errors import RuleViolation
from resolvers.access import require_creator, require_seller
from resolvers.context import Context
from resolvers.ids import decode_id
from resolvers.outcomes import attempt
from services import blocks


class CreatorInput(Protocol):
    @property
    def creator_id(self) -> str: ...


async def set_blocked(
    ctx: Context, input: CreatorInput, blocked: bool
) -> tuple[tuple[int, int | None] | None, list[RuleViolation]]:
    """((creator id, conversation id or None), errors)."""
    require_seller(ctx, "blockCreator" if blocked else "unblockCreator")
    creator_id = decode_id(input.creator_id, "Creator", "creatorId")
    conversation_id, errors = await attempt(ctx, lambda: blocks.set_blocked(ctx.app, ctx.viewer, creator_id, blocked))
    return (None if errors else (creator_id, conversation_id)), errors


class ShopInput(Protocol):
    @property
    def shop_id(self) -> str: ...


async def set_shop_blocked(
    ctx: Context, input: ShopInput, blocked: bool
) -> tuple[tuple[int, int | None] | None, list[RuleViolation]]:
    """((shop id, conversation id or None), errors)."""
    require_creator(ctx, "blockShop" if blocked else "unblockShop")
    shop_id = decode_id(input.shop_id, "Shop", "shopId")
    conversation_id, errors = await attempt(ctx, lambda: blocks.set_shop_blocked(ctx.app, ctx.viewer, shop_id, blocked))
    return (None if errors else (shop_id, conversation_id)), errors
