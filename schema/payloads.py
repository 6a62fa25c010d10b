"""What every mutation payload shares: business refusals as userErrors."""

from typing import Self

import strawberry

from core.errors import RuleViolation
from schema.enums import ErrorCode


@strawberry.type(description="A business rule said no. Nothing was changed by the failed part of the mutation.")
class UserError:
    code: ErrorCode
    message: str
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, if any, e.g. ["input", "content", "text"].'
    )

    @classmethod
    def from_violation(cls, error: RuleViolation) -> "UserError":
        return cls(code=ErrorCode(error.code), message=error.message, field=error.field)


def user_errors(errors: list[RuleViolation]) -> list[UserError]:
    return [UserError.from_violation(error) for error in errors]


class Refusable:
    """A payload that can answer refused input (schema/inputs.py) with its `userErrors` alone."""

    @classmethod
    def refused(cls, errors: list[RuleViolation]) -> Self:
        # Every subclass is a strawberry type with a `user_errors` field.
        return cls(user_errors=user_errors(errors))  # type: ignore[call-arg]
