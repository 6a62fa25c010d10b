"""Operation limits: depth, aliases, tokens and a cost, checked before execution.

The validation rules are built once per set of limits, so validation results can be cached
(fastpath/documents.py; a rule class made per request would miss every time).

The cost follows Shopify's calculated query cost: each object costs 1, each connection
2 + (its page size x the cost of one of its nodes), scalars nothing. Page sizes are the
values the operation will run with: a literal, or a variable's value after coercion (its
default when the request leaves it out). The shape of the sum is worked out per parsed document
(a `CostFormula`, which the speed layer keeps for every request of the document); each request
only puts its page sizes in.
"""

from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
    is_composite_type,
    specified_rules,
)
from graphql.execution.values import get_variable_values
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from core.errors import RateLimited
from resolvers.ids import MAX_PAGE

PAGE_ARGUMENTS = ("first", "last")
DEFAULT_PAGE = 20  # what a connection returns without first or last
TOO_COMPLEX = "QUERY_TOO_COMPLEX"


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_cost: int = 1000


@dataclass(frozen=True, slots=True)
class PageSize:
    """How a connection field gives first or last: a literal, or a variable's name."""

    literal: int | None = None
    variable: str | None = None

    def value(self, variables: dict[str, Any], default: int) -> int:
        """The size within 0..MAX_PAGE (larger ones are refused when the field runs); null is the
        field's default."""
        size = self.literal if self.variable is None else variables.get(self.variable)
        return default if size is None else max(0, min(MAX_PAGE, size))


@dataclass(frozen=True, slots=True)
class Connection:
    """2 + page size x one node's cost + what is asked once per page (pageInfo, totals)."""

    sizes: tuple[PageSize, ...]  # first and last as given; none: the default page
    default: int  # the page size without first or last
    per_node: "CostFormula"
    once: "CostFormula"

    def cost(self, variables: dict[str, Any]) -> int:
        page = max((size.value(variables, self.default) for size in self.sizes), default=self.default)
        return 2 + page * max(self.per_node.cost(variables), 1) + self.once.cost(variables)


@dataclass(frozen=True, slots=True)
class CostFormula:
    """A selection's cost: fixed objects plus its connections, whose page sizes may be variables."""

    fixed: int = 0
    connections: tuple[Connection, ...] = ()

    def __add__(self, other: "CostFormula") -> "CostFormula":
        return CostFormula(self.fixed + other.fixed, self.connections + other.connections)

    def cost(self, variables: dict[str, Any]) -> int:
        return self.fixed + sum(connection.cost(variables) for connection in self.connections)

    def variables(self) -> set[str]:
        """The variables that give page sizes, here or in nested connections."""
        names: set[str] = set()
        for connection in self.connections:
            names.update(size.variable for size in connection.sizes if size.variable is not None)
            names |= connection.per_node.variables() | connection.once.variables()
        return names


NOTHING = CostFormula()


def _page_sizes(field: FieldNode) -> tuple[PageSize, ...]:
    sizes = []
    for argument in field.arguments or ():
        if argument.name.value in PAGE_ARGUMENTS:
            if isinstance(argument.value, IntValueNode):
                sizes.append(PageSize(literal=int(argument.value.value)))
            elif isinstance(argument.value, VariableNode):
                sizes.append(PageSize(variable=argument.value.name.value))
    return tuple(sizes)


def _default_page(definition: GraphQLField) -> int:
    """The page size a connection field declares as its default, else DEFAULT_PAGE."""
    defaults = (definition.args[name].default_value for name in PAGE_ARGUMENTS if name in definition.args)
    return next((value for value in defaults if isinstance(value, int)), DEFAULT_PAGE)


class _FormulaBuilder:
    """Walks an operation's selections (fragments included) into its CostFormula."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def selections(
        self,
        selection_set: SelectionSetNode | None,
        parent_type: GraphQLNamedType | None,
        seen: frozenset[str] = frozenset(),
    ) -> CostFormula:
        total = NOTHING
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

    def field(self, node: FieldNode, parent_type: GraphQLNamedType | None, seen: frozenset[str]) -> CostFormula:
        fields = getattr(parent_type, "fields", None) or {}
        definition = fields.get(node.name.value)
        if definition is None:
            return NOTHING
        field_type = get_named_type(definition.type)
        if not is_composite_type(field_type):
            return NOTHING
        if field_type.name.endswith("Connection"):
            return CostFormula(connections=(self.connection(node, definition, field_type, seen),))
        children = self.selections(node.selection_set, field_type, seen)
        if field_type.name.endswith("Edge"):
            return children  # an edge is a wrapper: its node is the object that costs
        return CostFormula(1) + children

    def connection(
        self, node: FieldNode, definition: GraphQLField, field_type: GraphQLNamedType, seen: frozenset[str]
    ) -> Connection:
        per_node = once = NOTHING
        for selection in node.selection_set.selections if node.selection_set else ():
            cost = self.selections(SelectionSetNode(selections=(selection,)), field_type, seen)
            if isinstance(selection, FieldNode) and selection.name.value not in ("edges", "nodes"):
                once += cost
            else:
                per_node += cost
        return Connection(_page_sizes(node), _default_page(definition), per_node, once)


@dataclass(frozen=True, slots=True)
class OperationCost:
    """One operation's formula and the definitions of the variables its page sizes use."""

    formula: CostFormula
    page_variables: tuple[VariableDefinitionNode, ...]

    def charge(self, schema: GraphQLSchema, variables: dict[str, Any] | None, hide_suggestions: bool) -> int | None:
        """The cost with these request variables, coerced as execution will coerce them; None when
        they do not coerce (execution then refuses the operation before anything runs)."""
        if not self.page_variables:
            return self.formula.cost({})
        coerced = get_variable_values(schema, self.page_variables, variables or {}, hide_suggestions=hide_suggestions)
        if isinstance(coerced, list):
            return None
        return self.formula.cost(coerced.coerced)


def operation_cost(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> OperationCost | None:
    """The cost of the operation the request names; None when the document has no such operation
    (strawberry reports that)."""
    operation: OperationDefinitionNode | None = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    roots = {"query": schema.query_type, "mutation": schema.mutation_type, "subscription": schema.subscription_type}
    formula = _FormulaBuilder(schema, document).selections(operation.selection_set, roots[operation.operation.value])
    names = formula.variables()
    if not names:  # no page size from a variable: the sum is a constant, added up once
        formula = CostFormula(formula.cost({}))
    definitions = tuple(d for d in operation.variable_definitions or () if d.variable.name.value in names)
    return OperationCost(formula, definitions)


def refuse_if_too_costly(cost: int, max_cost: int) -> None:
    """Refuse an operation whose cost is above the limit, before it runs."""
    if cost > max_cost:
        raise GraphQLError(
            f"The query's cost is {cost}, above the maximum of {max_cost}; ask for smaller pages or "
            "fewer nested connections.",
            extensions={"code": TOO_COMPLEX, "cost": cost},
        )


def validation_rules(limits: Limits, production: bool) -> tuple[type[ASTValidationRule], ...]:
    """Every validation rule, built once: graphql-core's, ours and, in production, no introspection."""
    ours = (max_depth_rule(limits.max_depth, None), max_aliases_rule(limits.max_aliases))
    return (*specified_rules, *ours, *((NoSchemaIntrospectionCustomRule,) if production else ()))


async def admit(context: ExecutionContext, operation: OperationType) -> None:
    """Let an operation of the viewer run, or refuse it: one token of the principal's query
    bucket per query (mutations pay per field), and a seller's mutations refused once the shop
    is no longer active (writes never trust a cached shop status)."""
    if operation is OperationType.QUERY:
        verdict = await context.context.app.rate_limits.take(context.context.principal, "query")
        if not verdict.allowed:
            raise RateLimited(verdict.retry_after)
    elif operation is OperationType.MUTATION:
        await context.context.app.auth.recheck(context.context.viewer)
