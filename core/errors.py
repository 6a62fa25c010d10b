"""Every error the services raise on purpose, and the one list of codes clients see.

`RuleViolation`s are business refusals: mutations return them in `userErrors`.
The others end the whole operation as a top-level GraphQL error with `extensions.code`.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code a client sees: in a mutation's `userErrors`, or as a top-level error's `extensions.code`."""

    # userErrors: the contract's ErrorCode enum (schema/enums.py exposes these).
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    FORBIDDEN = "FORBIDDEN"
    BLOCKED = "BLOCKED"
    WEEKLY_OUTREACH_LIMIT_REACHED = "WEEKLY_OUTREACH_LIMIT_REACHED"
    PRE_REPLY_LIMIT_REACHED = "PRE_REPLY_LIMIT_REACHED"
    SAMPLE_ALREADY_DECIDED = "SAMPLE_ALREADY_DECIDED"
    RATE_LIMITED = "RATE_LIMITED"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    UNSUPPORTED_FILE = "UNSUPPORTED_FILE"
    # extensions.code only.
    UNAUTHENTICATED = "UNAUTHENTICATED"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    BAD_REQUEST = "BAD_REQUEST"
    SHOP_INACTIVE = "SHOP_INACTIVE"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    SLOW_CONSUMER = "SLOW_CONSUMER"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
    PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


# The codes a business refusal may carry, in the contract's order.
USER_ERROR_CODES = tuple(ErrorCode)[: tuple(ErrorCode).index(ErrorCode.UNSUPPORTED_FILE) + 1]


class InboxError(Exception):
    code: ErrorCode = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, field: list[str] | None = None, code: ErrorCode | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class Unauthenticated(InboxError):
    code = ErrorCode.UNAUTHENTICATED


class BadUserInput(InboxError):
    """A malformed argument: an ID, a cursor or a page size the API cannot use."""

    code = ErrorCode.BAD_USER_INPUT


class Forbidden(InboxError):
    """A root field or mutation meant for the other role."""

    code = ErrorCode.FORBIDDEN


class ShopInactive(InboxError):
    code = ErrorCode.SHOP_INACTIVE


class ServiceUnavailable(InboxError):
    code = ErrorCode.SERVICE_UNAVAILABLE


class SlowConsumerError(InboxError):
    """A subscription fell further behind than its queue holds."""

    code = ErrorCode.SLOW_CONSUMER


class RateLimited(InboxError):
    """Too many operations of one kind from one principal; `retry_after` in seconds."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, retry_after: float):
        super().__init__(f"Too many requests; retry in {retry_after:.1f} s.")
        self.retry_after = retry_after


class RuleViolation(InboxError):
    """A business rule said no, with one of `USER_ERROR_CODES`."""

    def __init__(self, code: ErrorCode, message: str, field: list[str] | None = None):
        super().__init__(message, field, code)


def not_found(what: str, field: list[str] | None = None) -> RuleViolation:
    return RuleViolation(ErrorCode.NOT_FOUND, f"{what} was not found.", field)


def invalid(message: str, field: list[str]) -> RuleViolation:
    return RuleViolation(ErrorCode.INVALID_INPUT, message, field)
