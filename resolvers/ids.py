"""Opaque, typed global IDs and cursors."""

import base64
import binascii

from services.errors import BadUserInput


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(value: str) -> str:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput(f"Malformed ID or cursor: {value!r}.") from None


def encode_id(type_name: str, pk: int) -> str:
    return _encode(f"{type_name}:{pk}")


def decode_any_id(value: str) -> tuple[str, int]:
    """(type name, primary key) of a global ID."""
    type_name, _, pk = _decode(str(value)).partition(":")
    if not type_name or not pk.isdigit():
        raise BadUserInput(f"Malformed ID: {value!r}.")
    return type_name, int(pk)


def decode_id(value: str, expected: str, field: str = "id") -> int:
    """The primary key of a global ID that must be of type `expected`."""
    type_name, pk = decode_any_id(value)
    if type_name != expected:
        raise BadUserInput(f"{field} must be the ID of a {expected}, not of a {type_name}.")
    return pk


def encode_cursor(*values) -> str:
    return _encode("|".join(str(v) for v in values))


def decode_cursor(value: str | None, *parsers):
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


MAX_PAGE = 100


def page_size(value: int | None, default: int, name: str = "first") -> int:
    """A validated page size: 0 to 100."""
    if value is None:
        return default
    if value < 0 or value > MAX_PAGE:
        raise BadUserInput(f"{name} must be between 0 and {MAX_PAGE}.")
    return value
