"""Operation limits: depth, aliases, tokens and a static cost, checked before execution.

The validation rules are built once per set of limits, so validation results can be cached
(schema/documents.py; a rule class made per request would miss every time).

The cost follows Shopify's calculated query cost: each object costs 1, each connection
2 + (its page size x the cost of one of its nodes), scalars nothing. A page size given as
a variable counts at the variable's default, or at the maximum page size without one.
"""

from dataclasses import dataclass

from graphql import (DocumentNode, FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLError,
                     GraphQLSchema, InlineFragmentNode, IntValueNode, OperationDefinitionNode, VariableNode,
                     get_named_type, is_composite_type, specified_rules)
from graphql.validation import NoSchemaIntrospectionCustomRule, ValidationRule
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.types.graphql import OperationType

from resolvers.ids import MAX_PAGE
from schema.identity_cache import IdentityCache
from services.errors import RateLimited

PAGE_ARGUMENTS = ("first", "last")
TOO_COMPLEX = "QUERY_TOO_COMPLEX"


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_cost: int = 1000


def _page_size(field: FieldNode, definition, variables: dict[str, int | None]) -> int:
    """The page size a connection field asks for, within 0..MAX_PAGE (larger ones fail anyway)."""
    return max(0, min(MAX_PAGE, _requested_page_size(field, definition, variables)))


def _requested_page_size(field: FieldNode, definition, variables: dict[str, int | None]) -> int:
    for argument in field.arguments or ():
        if argument.name.value in PAGE_ARGUMENTS:
            if isinstance(argument.value, IntValueNode):
                return int(argument.value.value)
            if isinstance(argument.value, VariableNode):
                default = variables.get(argument.value.name.value)
                return default if default is not None else MAX_PAGE
    default = next((definition.args[name].default_value for name in PAGE_ARGUMENTS
                    if name in definition.args and isinstance(definition.args[name].default_value, int)), None)
    return default if default is not None else 20


class _CostCounter:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode):
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variables = {
            v.variable.name.value: int(v.default_value.value) if isinstance(v.default_value, IntValueNode) else None
            for v in operation.variable_definitions or ()}

    def selections(self, selection_set, parent_type, seen: frozenset = frozenset()) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent_type, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent_type
                total += self.selections(selection.selection_set, inner, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    inner = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.selections(fragment.selection_set, inner, seen | {selection.name.value})
        return total

    def field(self, node: FieldNode, parent_type, seen: frozenset) -> int:
        fields = getattr(parent_type, "fields", None) or {}
        definition = fields.get(node.name.value)
        if definition is None:
            return 0
        field_type = get_named_type(definition.type)
        if not is_composite_type(field_type):
            return 0
        if field_type.name.endswith("Connection"):
            return self.connection(node, definition, field_type, seen)
        children = self.selections(node.selection_set, field_type, seen)
        if field_type.name.endswith("Edge"):
            return children  # an edge is a wrapper: its node is the object that costs
        return 1 + children

    def connection(self, node: FieldNode, definition, field_type, seen: frozenset) -> int:
        """2 + page size x one node's cost; pageInfo and the like count once."""
        per_node = once = 0
        for selection in node.selection_set.selections if node.selection_set else ():
            cost = self.selections(type(node.selection_set)(selections=(selection,)), field_type, seen)
            if isinstance(selection, FieldNode) and selection.name.value not in ("edges", "nodes"):
                once += cost
            else:
                per_node += cost
        return 2 + _page_size(node, definition, self.variables) * max(per_node, 1) + once


_COSTS: IdentityCache[int] = IdentityCache(1024)


def operation_cost(schema: GraphQLSchema, document: DocumentNode) -> int:
    """The highest cost of the document's operations, computed once per parsed document."""
    return _COSTS.get((schema, document), lambda: _operation_cost(schema, document))


def _operation_cost(schema: GraphQLSchema, document: DocumentNode) -> int:
    roots = {"query": schema.query_type, "mutation": schema.mutation_type, "subscription": schema.subscription_type}
    costs = [_CostCounter(schema, document, op).selections(op.selection_set, roots[op.operation.value])
             for op in document.definitions if isinstance(op, OperationDefinitionNode)]
    return max(costs, default=0)


def _max_cost_rule(max_cost: int) -> type[ValidationRule]:
    class MaxCostRule(ValidationRule):
        def __init__(self, context) -> None:
            super().__init__(context)
            cost = operation_cost(context.schema, context.document)
            if cost > max_cost:
                context.report_error(GraphQLError(
                    f"The query's cost is {cost}, above the maximum of {max_cost}; ask for smaller pages or "
                    "fewer nested connections.", extensions={"code": TOO_COMPLEX, "cost": cost}))

    return MaxCostRule


def validation_rules(limits: Limits, production: bool) -> tuple:
    """Every validation rule, built once: graphql-core's, ours and, in production, no introspection."""
    ours = (max_depth_rule(limits.max_depth, None), max_aliases_rule(limits.max_aliases),
            _max_cost_rule(limits.max_cost))
    return (*specified_rules, *ours, *((NoSchemaIntrospectionCustomRule,) if production else ()))


async def admit(context, operation: OperationType) -> None:
    """Let an operation of the viewer run, or refuse it: one token of the principal's query
    bucket per query (mutations pay per field), and a seller's mutations refused once the shop
    is no longer active (writes never trust a cached shop status)."""
    viewer = context.context.viewer
    if operation is OperationType.QUERY:
        verdict = await context.context.app.rate_limits.take(viewer.principal, "query")
        if not verdict.allowed:
            raise RateLimited(verdict.retry_after)
    elif operation is OperationType.MUTATION:
        await context.context.app.auth.recheck(viewer)
