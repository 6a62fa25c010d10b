"""Opaque, typed global IDs and cursors."""

import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from strawberry import ID

from core.errors import BadUserInput
from core.ids import encode_text

# Keys are INTEGER columns (BIGINT for messages): a larger number cannot name a row, and the
# database refuses to compare with it, so such an ID or cursor is malformed, not merely unknown.
MAX_KEY = 2**31 - 1
MAX_BIG_KEY = 2**63 - 1
BIG_KEY_TYPES = ("Message", "Image", "WebhookDelivery")


# The unpadded URL-safe alphabet that `encode_text` writes, only: "+", "/" and "=" become invalid characters.
_STANDARD = str.maketrans("-_+/=", "+/!!!")


def _decode(value: str) -> str:
    # Strict: base64's default skips characters outside its alphabet, so an ID with garbage in it
    # (a NUL, a space, a second ID's padding) would decode as if it were clean.
    try:
        padded = value.translate(_STANDARD) + "=" * (-len(value) % 4)
        return binascii.a2b_base64(padded.encode("ascii"), strict_mode=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise BadUserInput(f"Malformed ID or cursor: {value!r}.") from None


def encode_id(type_name: str, pk: int) -> ID:
    # An ID is a str: no NewType call for each of the IDs of every page.
    return encode_text(f"{type_name}:{pk}")  # type: ignore[return-value]


def decode_any_id(value: str) -> tuple[str, int]:
    """(type name, primary key) of a global ID."""
    type_name, _, pk = _decode(str(value)).partition(":")
    maximum = MAX_BIG_KEY if type_name in BIG_KEY_TYPES else MAX_KEY
    if (
        not (type_name.isascii() and type_name.isidentifier())
        or not pk.isascii()
        or not pk.isdigit()
        or int(pk) > maximum
    ):
        raise BadUserInput(f"Malformed ID: {value!r}.")
    return type_name, int(pk)


def decode_id(value: str, expected: str, field: str = "id") -> int:
    """The primary key of a global ID that must be of type `expected`."""
    type_name, pk = decode_any_id(value)
    if type_name != expected:
        raise BadUserInput(f"{field} must be the ID of a {expected}, not of a {type_name}.")
    return pk


def encode_cursor(*values: object) -> str:
    return encode_text("|".join(map(str, values)))


def id_cursor(row: Any) -> str:
    """The cursor of a row of a list ordered by id."""
    return encode_text(str(row.id))


def decode_node_cursor(value: str | None, type_name: str) -> int | None:
    """The key in a cursor of a list whose cursors are its nodes' global IDs (of `type_name`), or
    in a bare-key cursor of `id_cursor`, which such lists gave before; None if absent."""
    if value is None:
        return None
    if ":" in _decode(value):
        return decode_id(value, type_name, "cursor")
    return decode_cursor(value, cursor_big_int if type_name in BIG_KEY_TYPES else cursor_int)


def decode_cursor(value: str | None, *parsers: Callable[[str], Any]) -> Any:
    """The values of a cursor made by `encode_cursor`, each parsed by its parser; None if absent."""
    if value is None:
        return None
    parts = _decode(value).split("|")
    if len(parts) != len(parsers):
        raise BadUserInput(f"Malformed cursor: {value!r}.")
    try:
        values = tuple(parse(part) for parse, part in zip(parsers, parts, strict=True))
    except (ValueError, ArithmeticError):
        raise BadUserInput(f"Malformed cursor: {value!r}.") from None
    return values[0] if len(values) == 1 else values


def cursor_int(text: str) -> int:
    """A key or a count in a cursor (an INTEGER column)."""
    value = int(text)
    if not -MAX_KEY - 1 <= value <= MAX_KEY:
        raise ValueError(text)
    return value


def cursor_big_int(text: str) -> int:
    """A message id in a cursor (a BIGINT column)."""
    value = int(text)
    if not -MAX_BIG_KEY - 1 <= value <= MAX_BIG_KEY:
        raise ValueError(text)
    return value


def cursor_decimal(text: str) -> Decimal:
    """A money amount in a cursor: finite, and small enough for the database to compare."""
    value = Decimal(text)
    if not value.is_finite() or abs(value) >= 10**18:
        raise ValueError(text)
    return value


def cursor_datetime(text: str) -> datetime:
    """A UTC timestamp in a cursor, as made by `datetime.isoformat` of an aware datetime."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(text)
    return value.astimezone(UTC)  # OverflowError for a date that leaves the calendar in UTC


MAX_PAGE = 100


def page_size(value: int | None, default: int, name: str = "first") -> int:
    """A validated page size: 0 to 100."""
    if value is None:
        return default
    if value < 0 or value > MAX_PAGE:
        raise BadUserInput(f"{name} must be between 0 and {MAX_PAGE}.")
    return value


def optional_id(value: str | None, type_name: str, name: str) -> int | None:
    return decode_id(value, type_name, name) if value is not None else None
