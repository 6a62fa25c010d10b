"""The viewer, folder counts, the outreach quota and the creator filter."""

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from schema.enums import ViewerRole
from schema.inputs import text_field
from schema.platform import Creator, Shop
from services import text
from services.inbox import MAX_CATEGORIES
from services.outreach import Quota


@strawberry.type(description="Who the caller is, taken from the bearer token.")
class Viewer:
    role: ViewerRole

    @strawberry.field
    async def shop(self, info: Info) -> Shop | None:
        viewer = info.context.viewer
        return Shop.from_row(await info.context.loaders.shop_by_id.load(viewer.shop_id)) if viewer.is_seller else None

    @strawberry.field
    async def creator(self, info: Info) -> Creator | None:
        viewer = info.context.viewer
        if viewer.is_seller:
            return None
        return Creator.from_row(await info.context.loaders.creator_by_id.load(viewer.creator_id))


@strawberry.type(description="Badge counts for the folders, from the viewer's side.")
class InboxCounts:
    all: int
    unread: int
    unreplied: int
    starred: int
    archived: int


@strawberry.type(description=(
    "The shop's weekly outreach allowance. Each creator that the shop reaches for the first time in a week\n"
    "(a first message in a new conversation, a bulk message or a targeted collaboration invite) uses one unit;\n"
    "the same creator counts once a week. The limit comes from the shop's affiliate GMV over the last 30 days.\n"
    "Weeks start Monday 00:00 UTC."))
class OutreachQuota:
    weekly_limit: int
    used: int
    remaining: int
    period_start: datetime
    resets_at: datetime

    @classmethod
    def from_quota(cls, quota: Quota) -> "OutreachQuota":
        return cls(weekly_limit=quota.weekly_limit, used=quota.used, remaining=quota.remaining,
                   period_start=quota.period_start, resets_at=quota.resets_at)


@strawberry.input(description=("Filters on the creator side of a conversation or on the creator marketplace. "
                               "For seller viewers only. Bounds are inclusive."))
class CreatorFilter:
    min_followers: int | None = None
    max_followers: int | None = None
    categories: list[str] | None = text_field(text.CATEGORY, default=None, each=True,
                                              description=f"Main categories to match (any of them), at most {MAX_CATEGORIES}.")
    min_gmv: Decimal | None = strawberry.field(default=None, description="Sales performance bounds on gmv30d.")
    max_gmv: Decimal | None = None
    search: str | None = text_field(
        text.SEARCH, default=None, description="Case-insensitive substring of the handle or the display name.")
