"""The tables as SQLAlchemy Core sees them, for the services' statements: one alias per table."""

from models import (
                    Block,
                    CollaborationProduct,
                    Conversation,
                    ConversationState,
                    Creator,
                    CreatorSearch,
                    Message,
                    MessageSearch,
                    OutreachUnit,
                    Product,
                    SampleRequest,
                    Shop,
                    ShopBlock,
                    TargetCollaboration,
)

block_t = Block.__table__
collaboration_product_t = CollaborationProduct.__table__
collaboration_t = TargetCollaboration.__table__
conversation_t = Conversation.__table__
creator_t = Creator.__table__
creator_search_t = CreatorSearch.__table__
message_t = Message.__table__
message_search_t = MessageSearch.__table__
outreach_t = OutreachUnit.__table__
product_t = Product.__table__
sample_t = SampleRequest.__table__
shop_t = Shop.__table__
shop_block_t = ShopBlock.__table__
state_t = ConversationState.__table__
