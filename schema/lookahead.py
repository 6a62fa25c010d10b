"""Looking ahead from a resolver at what the query asks of its result."""

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    Undefined,
    get_named_type,
    value_from_ast,
)
from strawberry.types import Info


def subfield_arguments(info: Info[Any, Any], name: str) -> dict[str, Any] | None:
    """The arguments given to the `name` field selected under the current field, when the
    selection is plain: the current field selected once, `name` selected once directly in it
    (not through a fragment) and without directives. None otherwise, or when it is not asked."""
    raw = info._raw_info  # strawberry's Info wraps graphql-core's; the field nodes live there
    if len(raw.field_nodes) != 1 or raw.field_nodes[0].selection_set is None:
        return None
    selections = raw.field_nodes[0].selection_set.selections
    fields = [selection for selection in selections if isinstance(selection, FieldNode)]
    if len(fields) != len(selections):
        return None
    matches = [selection for selection in fields if selection.name.value == name]
    if len(matches) != 1 or matches[0].directives:
        return None
    parent = get_named_type(raw.return_type)
    assert isinstance(parent, GraphQLObjectType), "the current field returns an object"
    definition = parent.fields[name]
    # strawberry hands resolvers the coerced values, not graphql-core's VariableValues.
    variables: dict[str, Any] = raw.variable_values  # type: ignore[assignment]
    arguments = {}
    for argument in matches[0].arguments or ():
        value = value_from_ast(argument.value, definition.args[argument.name.value].type, variables)
        if value is not Undefined:  # a variable the request left out: as if the argument were
            arguments[argument.name.value] = value
    return arguments


def selects(info: Info, name: str) -> bool:
    """Whether the current field's selection may ask for the `name` field of its result: directly, or
    in any fragment (whatever its type condition or directives, so True errs on the safe side)."""
    raw = info._raw_info
    pending = [node.selection_set for node in raw.field_nodes if node.selection_set is not None]
    seen: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value == name:
                    return True
            elif isinstance(selection, FragmentSpreadNode):
                if selection.name.value not in seen:
                    seen.add(selection.name.value)
                    pending.append(raw.fragments[selection.name.value].selection_set)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
    return False
