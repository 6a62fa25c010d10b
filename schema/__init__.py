"""The strawberry schema object."""

from schema.build import schema

__all__ = ["schema"]
