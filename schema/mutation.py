"""The root Mutation: each field one service call, refusals in `userErrors`."""

import strawberry
from strawberry.types import Info

from resolvers import mutations
from resolvers.context import Context
from resolvers.ids import encode_id
from schema.conversation import Message, load_conversation
from schema.offers import SampleRequest, TargetCollaboration
from schema.payloads import (ApproveSampleRequestInput, BlockPayload, BulkSendResult, ConversationInput,
                             ConversationPayload, CreateTargetCollaborationInput, CreatorInput,
                             MarkConversationReadInput, RejectSampleRequestInput, RequestSampleInput,
                             SampleRequestPayload, SendBulkMessageInput, SendBulkMessagePayload, SendMessageInput,
                             SendMessagePayload, StartConversationInput, TargetCollaborationPayload, user_errors)
from schema.platform import Creator


async def conversation_payload(ctx: Context, outcome) -> ConversationPayload:
    conversation_id, errors = outcome
    return ConversationPayload(conversation=await load_conversation(ctx, conversation_id),
                               user_errors=user_errors(errors))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Find or open the single conversation with a creator (sellers). "
                                     "Opening uses no outreach quota; the first message does.")
    async def start_conversation(self, info: Info, input: StartConversationInput) -> ConversationPayload:
        return await conversation_payload(info.context, await mutations.start_conversation(info.context, input))

    @strawberry.mutation
    async def send_message(self, info: Info, input: SendMessageInput) -> SendMessagePayload:
        sent, errors = await mutations.send_message(info.context, input)
        if errors:
            return SendMessagePayload(message=None, user_errors=user_errors(errors))
        return SendMessagePayload(message=Message.from_row(sent.message, info.context.viewer),
                                  conversation_id=sent.conversation_id, user_errors=[])

    @strawberry.mutation(description="Per-creator results; one creator's failure does not stop the others.")
    async def send_bulk_message(self, info: Info, input: SendBulkMessageInput) -> SendBulkMessagePayload:
        outcomes, errors = await mutations.send_bulk_message(info.context, input)
        viewer = info.context.viewer
        results = [BulkSendResult(
            creator_id=encode_id("Creator", outcome.creator_id),
            message=Message.from_row(outcome.message, viewer) if outcome.message else None,
            user_errors=user_errors([outcome.error] if outcome.error else [])) for outcome in outcomes]
        sent = sum(1 for outcome in outcomes if outcome.message)
        return SendBulkMessagePayload(results=results, sent_count=sent, failed_count=len(outcomes) - sent,
                                      user_errors=user_errors(errors))

    @strawberry.mutation
    async def mark_conversation_read(self, info: Info, input: MarkConversationReadInput) -> ConversationPayload:
        return await conversation_payload(info.context, await mutations.mark_read(info.context, input))

    @strawberry.mutation
    async def star_conversation(self, info: Info, input: ConversationInput) -> ConversationPayload:
        return await conversation_payload(info.context, await mutations.set_flag(info.context, input, "star"))

    @strawberry.mutation
    async def unstar_conversation(self, info: Info, input: ConversationInput) -> ConversationPayload:
        return await conversation_payload(info.context, await mutations.set_flag(info.context, input, "unstar"))

    @strawberry.mutation
    async def archive_conversation(self, info: Info, input: ConversationInput) -> ConversationPayload:
        return await conversation_payload(info.context, await mutations.set_flag(info.context, input, "archive"))

    @strawberry.mutation
    async def unarchive_conversation(self, info: Info, input: ConversationInput) -> ConversationPayload:
        return await conversation_payload(info.context, await mutations.set_flag(info.context, input, "unarchive"))

    @strawberry.mutation(description="The creator can no longer message the shop and sees a CREATOR_BLOCKED "
                                     "notice in the chat.")
    async def block_creator(self, info: Info, input: CreatorInput) -> BlockPayload:
        return await _block_payload(info.context, await mutations.set_blocked(info.context, input, True))

    @strawberry.mutation
    async def unblock_creator(self, info: Info, input: CreatorInput) -> BlockPayload:
        return await _block_payload(info.context, await mutations.set_blocked(info.context, input, False))

    @strawberry.mutation(description="Creators: ask the shop for a product sample; a SampleRequestCard appears "
                                     "in the conversation.")
    async def request_sample(self, info: Info, input: RequestSampleInput) -> SampleRequestPayload:
        return _sample_payload(await mutations.request_sample(info.context, input))

    @strawberry.mutation
    async def approve_sample_request(self, info: Info, input: ApproveSampleRequestInput) -> SampleRequestPayload:
        return _sample_payload(await mutations.decide_sample(info.context, input, "APPROVED"))

    @strawberry.mutation
    async def reject_sample_request(self, info: Info, input: RejectSampleRequestInput) -> SampleRequestPayload:
        return _sample_payload(await mutations.decide_sample(info.context, input, "REJECTED", input.reason))

    @strawberry.mutation
    async def create_target_collaboration(self, info: Info,
                                          input: CreateTargetCollaborationInput) -> TargetCollaborationPayload:
        row, errors = await mutations.create_collaboration(info.context, input)
        return TargetCollaborationPayload(collaboration=TargetCollaboration.from_row(row) if row else None,
                                          user_errors=user_errors(errors))


async def _block_payload(ctx: Context, outcome) -> BlockPayload:
    ids, errors = outcome
    if errors:
        return BlockPayload(creator=None, conversation=None, user_errors=user_errors(errors))
    creator_id, conversation_id = ids
    ctx.loaders.forget(ctx.loaders.creator_blocked, creator_id)
    creator = Creator.from_row(await ctx.loaders.creator_by_id.load(creator_id))
    return BlockPayload(creator=creator, conversation=await load_conversation(ctx, conversation_id), user_errors=[])


def _sample_payload(outcome) -> SampleRequestPayload:
    row, errors = outcome
    return SampleRequestPayload(sample_request=SampleRequest.from_row(row) if row else None,
                                user_errors=user_errors(errors))
