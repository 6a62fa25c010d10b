"""A page of rows read by a keyset: what every paginated read returns."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    rows: list
    has_next: bool
    has_previous: bool
