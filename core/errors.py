"""Every error the services raise on purpose, each with the code clients see.

`RuleViolation`s are business refusals: mutations return them in `userErrors`.
The others end the whole operation as a top-level GraphQL error with `extensions.code`.
"""


class InboxError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, field: list[str] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class Unauthenticated(InboxError):
    code = "UNAUTHENTICATED"


class BadUserInput(InboxError):
    """A malformed argument: an ID, a cursor or a page size the API cannot use."""

    code = "BAD_USER_INPUT"


class Forbidden(InboxError):
    """A root field or mutation meant for the other role."""

    code = "FORBIDDEN"


class ShopInactive(InboxError):
    code = "SHOP_INACTIVE"


class ServiceUnavailable(InboxError):
    code = "SERVICE_UNAVAILABLE"


class SlowConsumerError(InboxError):
    """A subscription fell further behind than its queue holds."""

    code = "SLOW_CONSUMER"


class RateLimited(InboxError):
    """Too many operations of one kind from one principal; `retry_after` in seconds."""

    code = "RATE_LIMITED"

    def __init__(self, retry_after: float):
        super().__init__(f"Too many requests; retry in {retry_after:.1f} s.")
        self.retry_after = retry_after


class RuleViolation(InboxError):
    """A business rule said no; the code is one of the contract's `ErrorCode` values."""

    def __init__(self, code: str, message: str, field: list[str] | None = None):
        super().__init__(message, field, code)


def not_found(what: str, field: list[str] | None = None) -> RuleViolation:
    return RuleViolation("NOT_FOUND", f"{what} was not found.", field)


def invalid(message: str, field: list[str]) -> RuleViolation:
    return RuleViolation("INVALID_INPUT", message, field)
