"""The Decimal scalar: amounts and rates only, never NaN, Infinity or an exponent no column can hold.

strawberry's own Decimal parses with `decimal.Decimal`, which takes "sNaN" (any comparison with it
raises InvalidOperation), "Infinity", "1e999999" and "1E-999999". This one keeps the name and the
serialisation, and is used for literals and variables alike (a literal is parsed by `parse_value`).
"""

import re
from decimal import Decimal, DecimalException

import strawberry
from strawberry.schema.types.base_scalars import wrap_parser

MAX_DIGITS = 18  # below 10^18, and at most 18 decimal places
_SYNTAX = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?", re.ASCII)


def parse_decimal(value: str) -> Decimal:
    """A finite decimal of plain ASCII notation, below 10^18 with at most 18 decimal places."""
    if len(value) > 100 or not _SYNTAX.fullmatch(value):
        raise ValueError('Expected a decimal number such as "12.50".')
    amount = Decimal(value)
    # Finite (the syntax has no NaN or Infinity), so its exponent is a number.
    if amount.adjusted() >= MAX_DIGITS or int(amount.as_tuple().exponent) < -MAX_DIGITS:
        raise ValueError(f"Expected a number below 10^{MAX_DIGITS} with at most {MAX_DIGITS} decimal places.")
    return amount


DECIMAL = strawberry.scalar(
    name="Decimal",
    serialize=str,
    description=f"Decimal (fixed-point): a finite number below 10^{MAX_DIGITS} with at most {MAX_DIGITS} decimal "
    'places, such as "12.50".',
    parse_value=wrap_parser(
        parse_decimal, "Decimal", exceptions=(ValueError, DecimalException), accept_non_string=True
    ),
)
