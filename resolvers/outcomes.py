"""A mutation's outcome: the service's result, or its business refusal in userErrors, within the principal's
mutation rate."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.errors import ErrorCode, RateLimited, RuleViolation, invalid
from core.text import CLIENT_KEY
from resolvers.context import Context

T = TypeVar("T")


async def attempt(
    ctx: Context, call: Callable[[], Awaitable[T]], bucket: str = "mutation"
) -> tuple[T | None, list[RuleViolation]]:
    """(result, []) or (None, [the refusal]) of a service call, within the principal's rate (of
    mutations, or of the `bucket` named)."""
    verdict = await ctx.app.rate_limits.take(ctx.viewer.principal, bucket)
    if not verdict.allowed:
        error = RateLimited(verdict.retry_after)
        return None, [RuleViolation(ErrorCode.RATE_LIMITED, error.message)]
    try:
        return await call(), []
    except RuleViolation as error:
        return None, [error]


def client_key(value: str, name: str) -> str:
    if not 1 <= len(value) <= CLIENT_KEY.max_length:
        raise invalid(f"{name} must be 1 to {CLIENT_KEY.max_length} characters.", ["input", name])
    return value
