"""schema.graphql is the code's schema, and it keeps every promise of the public contract.

The contract is the committed copy `contract.graphql`; `.ci/run` fails when it differs from the shared original."""

import difflib

import pytest
from graphql import GraphQLSchema, build_schema, find_breaking_changes

from schema import schema
from tests.support.processes import ROOT

SCHEMA_FILE = ROOT / "schema.graphql"
CONTRACT_FILE = ROOT / "contract.graphql"


def contract() -> GraphQLSchema:
    assert CONTRACT_FILE.exists(), f"the public contract is missing at {CONTRACT_FILE}"
    return build_schema(CONTRACT_FILE.read_text())


def ours() -> GraphQLSchema:
    return build_schema(SCHEMA_FILE.read_text())


def part(full: GraphQLSchema, *roots: str) -> GraphQLSchema:
    """The schema made of the given root types and the types reached from them."""
    return GraphQLSchema(directives=full.directives, **{root: getattr(full, f"{root}_type") for root in roots})


def breaking(old: GraphQLSchema, new: GraphQLSchema) -> list[str]:
    return [f"{change.type.name}: {change.description}" for change in find_breaking_changes(old, new)]


def test_schema_file_is_the_code_schema():
    expected = schema.as_str() + "\n"
    actual = SCHEMA_FILE.read_text()
    diff = "".join(
        list(
            difflib.unified_diff(
                actual.splitlines(True), expected.splitlines(True), "schema.graphql", "the code's schema"
            )
        )[:80]
    )
    assert actual == expected, f"schema.graphql is out of date: run `python server.py export-schema`.\n{diff}"


def test_query_side_keeps_the_contract():
    old, new = part(contract(), "query"), part(ours(), "query")
    assert "conversations" in old.query_type.fields and "Conversation" in old.type_map  # the part is not empty
    assert breaking(old, new) == []


def test_query_and_mutation_sides_keep_the_contract():
    assert breaking(part(contract(), "query", "mutation"), part(ours(), "query", "mutation")) == []


@pytest.mark.skipif(ours().subscription_type is None, reason="the schema has no Subscription type yet")
def test_whole_schema_keeps_the_contract():
    assert breaking(contract(), ours()) == []


def test_the_check_catches_a_broken_promise():
    """A schema that drops a contract field or narrows an argument is reported."""
    lines = SCHEMA_FILE.read_text().splitlines(True)
    assert "  unreadCount: Int!\n" in lines
    lines.remove("  unreadCount: Int!\n")
    # Arguments with descriptions are printed one per line: find conversations' `first`.
    start = next(n for n, line in enumerate(lines) if line.startswith("  conversations("))
    n = next(n for n in range(start, len(lines)) if "first: Int = 20" in lines[n])
    assert n == start or all(line.startswith("    ") or not line.strip() for line in lines[start + 1 : n])
    lines[n] = lines[n].replace("first: Int = 20", "first: Int!")
    broken = build_schema("".join(lines))
    found = breaking(part(contract(), "query"), part(broken, "query"))
    assert any("unreadCount" in change for change in found), found
    assert any("first" in change for change in found), found
