"""A shop blocking and unblocking a creator."""

import strawberry
from strawberry.types import Info

from core.errors import RuleViolation
from core.text import GLOBAL_ID
from resolvers import blocks as blocks_resolvers
from resolvers.context import Context
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


@strawberry.type
class BlockMutation:
    @strawberry.mutation(description="The creator can no longer message the shop and sees a CREATOR_BLOCKED "
                                     "notice in the chat.")
    async def block_creator(self, info: Info[Context, None], input: CreatorInput) -> BlockPayload:
        return await _block_payload(info.context, await blocks_resolvers.set_blocked(info.context, input, True))

    @strawberry.mutation
    async def unblock_creator(self, info: Info[Context, None], input: CreatorInput) -> BlockPayload:
        return await _block_payload(info.context, await blocks_resolvers.set_blocked(info.context, input, False))


async def _block_payload(ctx: Context,
                         outcome: tuple[tuple[int, int | None] | None, list[RuleViolation]]) -> BlockPayload:
    ids, errors = outcome
    if ids is None:
        return BlockPayload(creator=None, conversation=None, user_errors=user_errors(errors))
    creator_id, conversation_id = ids
    ctx.loaders.forget(ctx.loaders.creator_blocked, creator_id)
    creator = Creator.from_row(await ctx.loaders.creator_by_id.load(creator_id))
    return BlockPayload(creator=creator, conversation=await load_conversation(ctx, conversation_id), user_errors=[])
