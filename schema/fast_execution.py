"""Completing plain objects without graphql-core's per-field machinery.

An inbox page of 50 rows selects about 850 fields; graphql-core spends some 15 µs on each
(resolve info, awaitable checks, path bookkeeping) although every one of them is a plain
attribute of an object we already built. For an object whose selected fields, all the way
down, are such plain attributes (strawberry's "basic" fields, `__typename`, leaves, lists,
unions of our types), this execution context builds the result dict directly from a plan
made once per request and field group. Anything else (a resolver, a directive-dependent
deferral, a null where the schema forbids one) takes graphql-core's ordinary path, which
also produces the standard errors.
"""

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from graphql import (GraphQLList, GraphQLNonNull, GraphQLObjectType, is_abstract_type, is_leaf_type,
                     is_object_type)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

Plan = Callable[[Any], Any]


class _Bail(Exception):
    """The value does not fit the fast path (a forbidden null): use graphql-core's."""


def _leaf(graphql_type) -> Plan:
    serialize = graphql_type.serialize

    def complete(value):
        if value is None:
            return None
        serialized = serialize(value)
        if serialized is None:
            raise _Bail
        return serialized

    return complete


def _non_null(inner: Plan) -> Plan:
    def complete(value):
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


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Plans of this request, by object type and field group (graphql-core reuses one
        # field group for every item of a list, so a page's rows share one plan).
        self._plans: dict[tuple, tuple[list, Plan | None]] = {}

    def complete_object_value(self, return_type, field_details_list, info, path, result, position_context):
        plan = self._object_plan(return_type, field_details_list)
        if plan is not None:
            try:
                return plan(result)
            except Exception:  # noqa: BLE001 - a forbidden null or a bad value: the slow path reports it
                pass
        return super().complete_object_value(return_type, field_details_list, info, path, result,
                                             position_context)

    def _object_plan(self, object_type: GraphQLObjectType, field_details_list: list) -> Plan | None:
        key = (object_type.name, id(field_details_list))
        cached = self._plans.get(key)
        if cached is None:
            # The list is kept alive with its plan, so its id cannot be reused meanwhile.
            cached = self._plans[key] = (field_details_list, self._build_object_plan(object_type, field_details_list))
        return cached[1]

    def _build_object_plan(self, object_type: GraphQLObjectType, field_details_list: list) -> Plan | None:
        grouped, new_defer_usages, _forbidden = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        steps = []
        for response_key, details in grouped.items():
            if any(detail.defer_usage or detail.fragment_variable_values for detail in details):
                return None
            name = details[0].node.name.value
            if name == "__typename":
                steps.append((response_key, lambda _source, type_name=object_type.name: type_name))
                continue
            field = object_type.fields.get(name)
            if field is None or not getattr(field.resolve, "_is_default", False):
                return None  # a resolver: graphql-core runs it (it may be async)
            complete = self._value_plan(field.type, details)
            if complete is None:
                return None
            # A basic field reads the attribute of its Python name (the schema's default resolver).
            get = attrgetter(field.extensions["strawberry-definition"].python_name)
            steps.append((response_key, lambda source, get=get, done=complete: done(get(source))))
        return lambda source: {key: step(source) for key, step in steps}

    def _value_plan(self, graphql_type, details: list) -> Plan | None:
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

    def _abstract_plan(self, abstract_type, details: list) -> Plan | None:
        """A union or interface of strawberry types: pick the plan by the value's class."""
        plans = {}
        for possible in self.schema.get_possible_types(abstract_type):
            plan = self._object_plan(possible, details)
            if plan is None:
                return None
            plans[possible.name] = plan

        def complete(value):
            if value is None:
                return None
            definition = getattr(type(value), "__strawberry_definition__", None)
            plan = plans.get(definition.name) if definition else None
            if plan is None:
                raise _Bail
            return plan(value)

        return complete
