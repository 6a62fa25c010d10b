"""A page of rows read by a keyset: what every paginated read returns."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Page:
    rows: Sequence[Any]
    has_next: bool
    has_previous: bool
