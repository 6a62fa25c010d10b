"""Every string a client sends is checked against its kind of text (core/text.py) before a resolver runs.

Each String or ID argument and input field names its `TextKind`, with `text_field` or one of the
argument types below; the kind also writes the limit into the field's description. `guard_inputs`
wraps, once per built schema, every resolver that takes a string: a refused value ends a query or
subscription field with BAD_USER_INPUT, and answers a mutation with its payload's INVALID_INPUT
`userErrors` (with the path of the field at fault), so nothing runs. A string input without a
kind stops the schema from building.
"""

from collections.abc import Callable, Iterator
from functools import wraps
from typing import Annotated, Any, Protocol

import strawberry
from graphql import (
    GraphQLArgument,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

from core import text
from core.errors import BadUserInput, RuleViolation, invalid
from core.text import TextKind

KIND = "inbox.text-kind"
STRING_SCALARS = ("String", "ID")

# (path of the field at fault, why it is refused) for each refused string of a value.
Refusals = Iterator[tuple[list[str], str]]
Check = Callable[[Any, list[str]], Refusals]
Resolver = Callable[..., Any]


class RefusingPayload(Protocol):
    """A mutation's payload class, which answers refused input with its `userErrors` alone."""

    @classmethod
    def refused(cls, errors: list[RuleViolation]) -> object: ...


def describe(kind: TextKind, description: str | None = None, each: bool = False) -> str:
    return f"{description} {kind.describe(each)}" if description else kind.describe(each)


def text_field(kind: TextKind, description: str | None = None, each: bool = False, **options: Any) -> Any:
    """An input field holding text of this kind (`each` string of a list of them)."""
    return strawberry.field(description=describe(kind, description, each), metadata={KIND: kind}, **options)


def text_argument(kind: TextKind, description: str | None = None) -> Any:
    """The `Annotated` marker of an argument holding text of this kind."""
    return strawberry.argument(description=describe(kind, description), metadata={KIND: kind})


NodeId = Annotated[strawberry.ID, text_argument(text.GLOBAL_ID)]
OptionalNodeId = Annotated[strawberry.ID | None, text_argument(text.GLOBAL_ID)]
Cursor = Annotated[str | None, text_argument(text.CURSOR)]


def guard_inputs(schema: GraphQLSchema) -> None:
    """Check the strings of every field's arguments before its resolver (its subscriber) runs."""
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            check = _arguments_check(f"{type_.name}.{name}", field.args)
            if check is None:
                continue
            if type_ is schema.subscription_type:
                field.subscribe = _refusing(_resolver(field.subscribe), check)
            elif type_ is schema.mutation_type:
                field.resolve = _answering_refusals(_resolver(field.resolve), check, _payload_class(field.type))
            else:
                field.resolve = _refusing(_resolver(field.resolve), check)


def _resolver(resolve: Resolver | None) -> Resolver:
    """A field's resolver (or subscriber): strawberry gives every field that takes arguments one."""
    if resolve is None:
        raise TypeError("a field that takes arguments needs a resolver")
    return resolve


def _refusing(resolve: Resolver, check: Check) -> Resolver:
    @wraps(resolve)
    def checked(source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Any:
        refusal = next(check(arguments, []), None)
        if refusal is not None:
            path, reason = refusal
            raise BadUserInput(f"{'.'.join(path)} {reason}.")
        return resolve(source, info, **arguments)

    return checked


def _answering_refusals(resolve: Resolver, check: Check, payload: type[RefusingPayload]) -> Resolver:
    @wraps(resolve)
    def checked(source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Any:
        refusal = next(check(arguments, []), None)
        if refusal is None:
            return resolve(source, info, **arguments)
        path, reason = refusal
        return payload.refused([invalid(f"{'.'.join(path)} {reason}.", path)])

    return checked


def _payload_class(graphql_type: GraphQLOutputType) -> type[RefusingPayload]:
    """The strawberry class of a mutation's (non-null) payload; it must be able to answer refused input."""
    payload = get_named_type(graphql_type).extensions[GraphQLCoreConverter.DEFINITION_BACKREF].origin
    if not hasattr(payload, "refused"):
        raise TypeError(f"{payload.__name__} needs a `refused(errors)` classmethod to report refused input")
    return payload


def _arguments_check(coordinate: str, arguments: dict[str, GraphQLArgument]) -> Check | None:
    checks = {
        name: check
        for name, argument in arguments.items()
        if (check := _holder_check(f"{coordinate}({name}:)", argument)) is not None
    }
    return _mapping_check(checks) if checks else None


def _holder_check(coordinate: str, holder: GraphQLArgument | GraphQLInputField) -> Check | None:
    """The check of an argument's or input field's value; its kind rules the strings directly in it."""
    definition = (holder.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    kind = definition.metadata.get(KIND) if definition is not None else None
    return _value_check(coordinate, holder.type, kind)


def _value_check(coordinate: str, type_: GraphQLInputType, kind: TextKind | None) -> Check | None:
    if isinstance(type_, GraphQLNonNull):
        return _value_check(coordinate, type_.of_type, kind)
    if isinstance(type_, GraphQLList):
        item = _value_check(coordinate, type_.of_type, kind)
        return _list_check(item) if item is not None else None
    if isinstance(type_, GraphQLInputObjectType):
        checks = {
            name: check
            for name, field in type_.fields.items()
            if (check := _holder_check(f"{type_.name}.{name}", field)) is not None
        }
        return _mapping_check(checks) if checks else None
    if isinstance(type_, GraphQLScalarType) and type_.name in STRING_SCALARS:
        if kind is None:
            raise TypeError(f"{coordinate} takes a string but names no TextKind (schema/inputs.py)")
        return _string_check(kind)
    return None


def _string_check(kind: TextKind) -> Check:
    def check(value: Any, path: list[str]) -> Refusals:
        if value is not None and (reason := kind.refusal(value)) is not None:
            yield path, reason

    return check


def _list_check(item: Check) -> Check:
    def check(value: Any, path: list[str]) -> Refusals:
        for index, element in enumerate(value or ()):
            yield from item(element, [*path, str(index)])

    return check


def _mapping_check(checks: dict[str, Check]) -> Check:
    def check(value: Any, path: list[str]) -> Refusals:
        if value is None:
            return
        for name, field_check in checks.items():
            if name in value:
                yield from field_check(value[name], [*path, name])

    return check
