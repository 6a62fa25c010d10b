"""Blocks: a shop blocking and unblocking a creator, a creator blocking and unblocking a shop."""

import strawberry
from strawberry.types import Info

from core.errors import RuleViolation
from core.text import GLOBAL_ID
from resolvers import blocks as blocks_resolvers
from resolvers.context import Context
from schema.catalog import Shop
from schema.conversations import Conversation, load_conversation
from schema.inputs import text_field
from schema.marketplace import Creator
from schema.payloads import Refusable, UserError, user_errors


@strawberry.input
class CreatorInput:
    creator_id: strawberry.ID = text_field(GLOBAL_ID)


@strawberry.type
class BlockPayload(Refusable):
    creator: Creator | None = None
    conversation: Conversation | None = None
    user_errors: list[UserError]


@strawberry.input
class ShopInput:
    shop_id: strawberry.ID = text_field(GLOBAL_ID)


@strawberry.type
class ShopBlockPayload(Refusable):
    shop: Shop | None = None
    conversation: Conversation | None = None
    user_errors: list[UserError]


@strawberry.type
class BlockMutation:
    @strawberry.mutation(
        description="The creator can no longer message the shop and sees a CREATOR_BLOCKED notice in the chat."
    )
    async def block_creator(self, info: Info[Context, None], input: CreatorInput) -> BlockPayload:
        return await _block_payload(info.context, await blocks_resolvers.set_blocked(info.context, input, True))

    @strawberry.mutation
    async def unblock_creator(self, info: Info[Context, None], input: CreatorInput) -> BlockPayload:
        return await _block_payload(info.context, await blocks_resolvers.set_blocked(info.context, input, False))

    @strawberry.mutation(
        description="Creators: the shop can no longer message the creator, and its sellers see a "
        "SHOP_BLOCKED notice in the chat."
    )
    async def block_shop(self, info: Info[Context, None], input: ShopInput) -> ShopBlockPayload:
        return await _shop_block_payload(
            info.context, await blocks_resolvers.set_shop_blocked(info.context, input, True)
        )

    @strawberry.mutation
    async def unblock_shop(self, info: Info[Context, None], input: ShopInput) -> ShopBlockPayload:
        return await _shop_block_payload(
            info.context, await blocks_resolvers.set_shop_blocked(info.context, input, False)
        )


async def _block_payload(
    ctx: Context, outcome: tuple[tuple[int, int | None] | None, list[RuleViolation]]
) -> BlockPayload:
    ids, errors = outcome
    if ids is None:
        return BlockPayload(creator=None, conversation=None, user_errors=user_errors(errors))
    creator_id, conversation_id = ids
    ctx.loaders.forget(ctx.loaders.creator_blocked, creator_id)
    creator = Creator.from_row(await ctx.loaders.creator_by_id.load(creator_id))
    return BlockPayload(creator=creator, conversation=await load_conversation(ctx, conversation_id), user_errors=[])


async def _shop_block_payload(
    ctx: Context,
    outcome: tuple[tuple[int, int | None] | None, list[RuleViolation]],
) -> ShopBlockPayload:
    ids, errors = outcome
    if errors or ids is None:
        return ShopBlockPayload(shop=None, conversation=None, user_errors=user_errors(errors))
    shop_id, conversation_id = ids
    ctx.loaders.forget(ctx.loaders.shop_blocked, shop_id)
    shop = Shop.from_row(await ctx.loaders.shop_by_id.load(shop_id))
    return ShopBlockPayload(shop=shop, conversation=await load_conversation(ctx, conversation_id), user_errors=[])
