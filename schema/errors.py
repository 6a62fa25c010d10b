"""Every GraphQL error leaves with an `extensions.code`; unexpected ones leave masked.

Applied in `InboxSchema.process_errors`, which strawberry calls for HTTP and WebSocket
results alike, before they are formatted.
"""

import logging
import uuid

from graphql import GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
)

from core.errors import ErrorCode, InboxError, RateLimited
from models.availability import is_unavailable

log = logging.getLogger("inbox.errors")

# graphql-core's wording for a value that does not fit its type, in a literal or a variable.
VALUE_ERROR_MARKERS = (
    "Expected value of type",
    "does not exist in",
    "cannot represent",
    "got invalid value",
    "of required type",
    "was not provided",
    "must specify exactly one key",
    "must be non-null",
    "Expected type",
)

# strawberry's depth and alias rules and graphql-core's token cap report without a code.
TOO_COMPLEX_MARKERS = ("exceeds maximum operation depth", "aliases found. Allowed", "Document contains more than")

# strawberry's refusals of a request it cannot run (no query, an unknown operation name, an
# operation type the transport does not carry): over a WebSocket they arrive here as errors.
REQUEST_REFUSALS = (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError)


def classify(error: GraphQLError) -> None:
    """Set the error's code, and mask the message of anything unexpected."""
    extensions = dict(error.extensions or {})
    original = error.original_error
    if isinstance(original, GraphQLError) and not error.path:
        # graphql-core's own report of a variable value that does not fit its type (it chains the
        # coercion error): the client's input, classified by its wording below, not a crash.
        original = None
    if "code" in extensions:
        pass
    elif isinstance(original, InboxError):
        extensions["code"] = original.code
        if isinstance(original, RateLimited):
            extensions["retryAfter"] = round(original.retry_after, 3)
    elif isinstance(original, REQUEST_REFUSALS):
        extensions["code"] = ErrorCode.BAD_REQUEST
    elif original is not None and is_unavailable(original):
        extensions["code"] = ErrorCode.SERVICE_UNAVAILABLE
        error.message = "The service is temporarily unavailable; retry shortly."
    elif original is not None:
        error_id = uuid.uuid4().hex[:12]
        log.error("unexpected error %s", error_id, exc_info=original)
        extensions.update(code=ErrorCode.INTERNAL_SERVER_ERROR, errorId=error_id)
        error.message = f"Internal server error (error id {error_id})."
    elif any(marker in error.message for marker in TOO_COMPLEX_MARKERS):
        extensions["code"] = ErrorCode.QUERY_TOO_COMPLEX
    elif error.message.startswith("Syntax Error"):
        extensions["code"] = ErrorCode.GRAPHQL_PARSE_FAILED
    elif any(marker in error.message for marker in VALUE_ERROR_MARKERS):
        extensions["code"] = ErrorCode.BAD_USER_INPUT
    else:
        extensions["code"] = ErrorCode.GRAPHQL_VALIDATION_FAILED
    error.extensions = extensions
