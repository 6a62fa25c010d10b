"""The seller's weekly outreach quota."""

from datetime import datetime

import strawberry
from strawberry.types import Info

from resolvers import outreach as outreach_resolvers
from resolvers.context import Context
from services.outreach import Quota


@strawberry.type(
    description=(
        "The shop's weekly outreach allowance. Each creator that the shop reaches for the first time in a week\n"
        "(a first message in a new conversation, a bulk message or a targeted collaboration invite) uses one unit;\n"
        "the same creator counts once a week. The limit comes from the shop's affiliate GMV over the last 30 days.\n"
        "Weeks start Monday 00:00 UTC."
    )
)
class OutreachQuota:
    weekly_limit: int
    used: int
    remaining: int
    period_start: datetime
    resets_at: datetime

    @classmethod
    def from_quota(cls, quota: Quota) -> "OutreachQuota":
        return cls(
            weekly_limit=quota.weekly_limit,
            used=quota.used,
            remaining=quota.remaining,
            period_start=quota.period_start,
            resets_at=quota.resets_at,
        )


@strawberry.type
class OutreachQuery:
    @strawberry.field(description="Seller viewers only.")
    async def outreach_quota(self, info: Info[Context, None]) -> OutreachQuota:
        return OutreachQuota.from_quota(await outreach_resolvers.outreach_quota(info.context))
