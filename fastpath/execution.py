"""Completing plain objects without graphql-core's per-field machinery.

An inbox page of 50 rows selects about 850 fields; graphql-core spends some 15 µs on each
(resolve info, awaitable checks, path bookkeeping) although every one of them is a plain
attribute of an object we already built. For an object whose selected fields, all the way
down, are such plain attributes (strawberry's "basic" fields, `__typename`, leaves, lists,
unions of our types), this execution context builds the result dict directly from a plan
made once per document and field group: a small Python function generated for the object
type, which reads each attribute and returns the dict in one call (strings, booleans,
datetimes, nested objects and lists of objects are completed inline in it). Anything else (a resolver,
a directive-dependent deferral, a null where the schema forbids one) takes graphql-core's
ordinary path, which also produces the standard errors. tests/test_fast_execution.py checks
that the app answers alike with and without this layer.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn

from graphql import (
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.schema.types.base_scalars import isoformat as _ISOFORMAT

from fastpath.compiled import Completed
from fastpath.identity_cache import IdentityCache

Plan = Callable[[Any], Any]


class _Bail(Exception):
    """The value does not fit the fast path (a forbidden null): use graphql-core's."""


# Python types a built-in scalar serializes to themselves (ints only within GraphQL's 32 bits).
_IDENTITY: dict[str, type[Any]] = {"String": str, "ID": str, "Boolean": bool, "Int": int}
# Where strawberry keeps, on each graphql-core type and field, the strawberry definition it was built from.
_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF


def _definition(graphql_thing: Any) -> Any:
    """The strawberry definition a graphql-core type or field was built from, or None."""
    return (graphql_thing.extensions or {}).get(_DEFINITION)


def _leaf(graphql_type: GraphQLLeafType) -> Plan:
    if isinstance(graphql_type, GraphQLEnumType):
        return _enum(graphql_type)
    serialize = graphql_type.serialize
    same = _IDENTITY.get(graphql_type.name)

    def complete(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is same and (same is not int or -(2**31) <= value < 2**31):
            return value
        serialized = serialize(value)
        if serialized is None:
            raise _Bail
        return serialized

    return complete


def _enum_names(graphql_type: GraphQLEnumType) -> dict[Any, str]:
    """An enum's GraphQL names by value and, for strawberry's enums, by member."""
    names = {definition.value: name for name, definition in graphql_type.values.items()}
    wrapped = getattr(_definition(graphql_type), "wrapped_cls", None)  # strawberry's enums: members, not only values
    if wrapped is not None:
        names.update({member: names[member.value] for member in wrapped if member.value in names})
    return names


def _enum_names_by_identity(graphql_type: GraphQLEnumType) -> dict[int, str]:
    """The names of a strawberry enum's members by `id(member)`: members are singletons, and
    hashing one runs Enum.__hash__ in Python."""
    wrapped = getattr(_definition(graphql_type), "wrapped_cls", None)
    names = _enum_names(graphql_type)
    return {id(member): names[member] for member in wrapped or () if member in names}


def _enum(graphql_type: GraphQLEnumType) -> Plan:
    """An enum member's name by a dict lookup (strawberry's serializer is the slow fallback)."""
    names = _enum_names(graphql_type)
    serialize = graphql_type.serialize

    def complete(value: Any) -> Any:
        if value is None:
            return None
        name = names.get(value)
        if name is None:
            name = serialize(value)
            if name is None:
                raise _Bail
        return name

    return complete


def _non_null(inner: Plan) -> Plan:
    def complete(value: Any) -> Any:
        if value is None:
            raise _Bail
        completed = inner(value)
        if completed is None:
            raise _Bail
        return completed

    return complete


def _list(inner: Plan) -> Plan:
    return lambda value: None if value is None else [inner(item) for item in value]


def _nullable(inner: Plan) -> Plan:
    return lambda value: None if value is None else inner(value)


def _bail() -> NoReturn:
    raise _Bail


def _inline(
    graphql_type: GraphQLOutputType,
    value: str,
    name: Callable[[object], str],
    object_plan: Callable[[GraphQLObjectType], Plan | None],
    abstract_plans: Callable[[GraphQLAbstractType], dict[type, Plan] | None],
) -> tuple[str, str] | None:
    """A fast expression completing `value` (evaluated once, into `_v`) and the condition under
    which it applies (the value is of the usual Python type), or None. It covers str and bool
    leaves, enum members, datetimes, objects, unions of our types and lists of objects; `name`
    turns a helper into the generated function's name for it."""
    inner = graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        item_type = item.of_type if isinstance(item, GraphQLNonNull) else item
        plan = object_plan(item_type) if is_object_type(item_type) else None
        if plan is None:
            return None
        missing = f"{name(_bail)}()" if isinstance(item, GraphQLNonNull) else "None"
        return (f"[{name(plan)}(_x) if _x is not None else {missing} for _x in _v]", f"type(_v := {value}) is list")
    if is_object_type(inner):
        plan = object_plan(inner)
        return plan and (f"{name(plan)}(_v)", f"(_v := {value}) is not None")
    if isinstance(inner, GraphQLEnumType):
        by_identity = name(_enum_names_by_identity(inner))
        return f"{by_identity}[id(_v)]", f"id(_v := {value}) in {by_identity}"
    if is_abstract_type(inner):
        by_class = abstract_plans(inner)
        if by_class is None:
            return None
        return f"{name(by_class)}[type(_v)](_v)", f"type(_v := {value}) in {name(by_class)}"
    if getattr(inner, "serialize", None) is _ISOFORMAT:
        return "_v.isoformat()", f"type(_v := {value}) is {name(datetime)}"
    same = _IDENTITY.get(getattr(inner, "name", ""))
    if same is str or same is bool:
        return "_v", f"type(_v := {value}) is {name(same)}"
    return None


def _compile_plan(type_name: str, entries: list[tuple[str, str]], helpers: dict[str, object]) -> Plan:
    """One function building the object's result dict: a call per object instead of three per field."""
    body = ", ".join(f"{key!r}: {expression}" for key, expression in entries)
    source = f"def complete_{type_name}(source):\n    return {{{body}}}\n"
    namespace = dict(helpers)
    exec(compile(source, f"<plan {type_name}>", "exec"), namespace)  # noqa: S102 - source built from the schema
    plan: Plan = namespace[f"complete_{type_name}"]  # type: ignore[assignment]  # the function just defined
    return plan


# Plans by object type and field nodes, shared by every request of a cached document: a
# plan depends on the document alone unless a directive (@skip, @include) makes it depend on
# variables.
_PLANS_LIMIT = 10_000
_SHARED_PLANS: IdentityCache[Plan | None] = IdentityCache(_PLANS_LIMIT)


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        source = self.operation.loc.source.body if self.operation.loc else "@"
        # Without directives, plans can be shared across requests; otherwise they live for this one.
        self._plans = _SHARED_PLANS if "@" not in source else IdentityCache(_PLANS_LIMIT)

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if type(result) is Completed:  # a root field answered by its statement's JSON (fastpath/compiled.py)
            return result.data  # type: ignore[return-value]  # a Fragment in place of the dict: orjson writes it
        plan = self._object_plan(return_type, field_details_list)
        if plan is not None:
            try:
                return plan(result)
            except Exception:  # noqa: BLE001 - a forbidden null or a bad value: the slow path reports it
                pass
        return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)

    def _object_plan(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> Plan | None:
        return self._plans.get(
            (object_type, *(detail.node for detail in field_details_list)),
            lambda: self._build_object_plan(object_type, field_details_list),
        )

    def _build_object_plan(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> Plan | None:
        grouped, new_defer_usages, _forbidden = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        entries: list[tuple[str, str]] = []  # (response key, expression of `source`)
        helpers: dict[str, object] = {}
        for response_key, details in grouped.items():
            if any(detail.defer_usage or detail.fragment_variable_values for detail in details):
                return None
            name = details[0].node.name.value
            if name == "__typename":
                entries.append((response_key, repr(object_type.name)))
                continue
            field = object_type.fields.get(name)
            definition = _definition(field) if field is not None else None
            if definition is None or not definition.is_basic_field:
                return None  # a resolver or a field extension: graphql-core runs it (it may be async)
            complete = self._value_plan(field.type, details)
            if complete is None:
                return None
            # A basic field reads the attribute of its Python name (the schema's default resolver).
            attribute = definition.python_name
            entries.append((response_key, self._field_expression(field.type, details, attribute, complete, helpers)))
        return _compile_plan(object_type.name, entries, helpers)

    def _field_expression(
        self,
        graphql_type: GraphQLOutputType,
        details: FieldDetailsList,
        attribute: str,
        complete: Plan,
        helpers: dict[str, object],
    ) -> str:
        """The expression completing `source.<attribute>`: inline for the usual Python type of
        the value (see `_inline`), else, and for anything unusual, by the field's full plan."""

        def name(helper: object) -> str:
            key = f"_h{len(helpers)}"
            helpers[key] = helper
            return key

        value = f"source.{attribute}"
        fast = _inline(
            graphql_type,
            value,
            name,
            lambda object_type: self._object_plan(object_type, details),
            lambda abstract_type: self._plans_by_class(abstract_type, details),
        )
        if fast is None:
            return f"{name(complete)}({value})"
        expression, condition = fast
        # `_v` is a local of the generated function; each entry assigns it before reading it.
        return f"({expression} if {condition} else {name(complete)}(_v))"

    def _value_plan(self, graphql_type: GraphQLOutputType, details: FieldDetailsList) -> Plan | None:
        if isinstance(graphql_type, GraphQLNonNull):
            inner = self._value_plan(graphql_type.of_type, details)
            return inner and _non_null(inner)
        if isinstance(graphql_type, GraphQLList):
            inner = self._value_plan(graphql_type.of_type, details)
            return inner and _list(inner)
        if is_leaf_type(graphql_type):
            return _leaf(graphql_type)
        if is_object_type(graphql_type):
            plan = self._object_plan(graphql_type, details)
            return plan and _nullable(plan)
        if is_abstract_type(graphql_type):
            return self._abstract_plan(graphql_type, details)
        return None

    def _plans_by_class(self, abstract_type: GraphQLAbstractType, details: FieldDetailsList) -> dict[type, Plan] | None:
        """The plan of each possible type of a union or interface, by its strawberry class."""
        plans = {}
        for possible in self.schema.get_possible_types(abstract_type):
            plan = self._object_plan(possible, details)
            definition = _definition(possible)
            if plan is None or definition is None:
                return None
            plans[definition.origin] = plan
        return plans

    def _abstract_plan(self, abstract_type: GraphQLAbstractType, details: FieldDetailsList) -> Plan | None:
        """A union or interface of strawberry types: pick the plan by the value's class."""
        plans = self._plans_by_class(abstract_type, details)
        if plans is None:
            return None

        def complete(value: Any) -> Any:
            if value is None:
                return None
            plan = plans.get(type(value))
            if plan is None:
                raise _Bail  # e.g. a subclass: graphql-core resolves its type
            return plan(value)

        return complete
