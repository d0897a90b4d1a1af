"""What a GraphQL query may ask for, measured on the parsed document before anything runs.

    depth    the deepest chain of nested fields (fragments add no depth of their own)     at most MAX_DEPTH
    aliases  aliased fields, counted as executed (a fragment spread twice counts twice)    at most MAX_ALIASES
    cost     the nodes the query may return in the worst case (GitHub's node limit,       at most MAX_COST
             Shopify's requested cost): a connection returns `first` nodes (its default
             when not given, its maximum when `first` is a variable without a value), and
             everything under it is multiplied by that; `nodes(ids:)` returns len(ids);
             any other object field one node; a mutation's field MUTATION_COST; scalars,
             a connection's edges/node/pageInfo and `__typename` nothing.

A connection's default and maximum page are the field's own (its `extensions["page"]`, set where the schema defines
it), so the cost cannot drift from what the resolvers allow. The walk memoises each fragment per type, so fragments
spread many times cost time linear in the document, not in its expansion. It runs after graphql-core's validation
(NoFragmentCycles among it), so every fragment here exists and none contains itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from graphql import (
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
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_COST = 1000  # nodes; Shopify's single-query maximum is 1,000 points too
MUTATION_COST = 10  # a write is dearer than a read (Shopify's price of a mutation)


@dataclass(frozen=True, slots=True)
class Measure:
    """What one selection set asks for, per node of its parent (cost scales with the parent's count)."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0

    def __add__(self, other: Measure) -> Measure:
        return Measure(max(self.depth, other.depth), self.aliases + other.aliases, self.cost + other.cost)


@dataclass(frozen=True, slots=True)
class Limit:
    code: str
    what: str
    maximum: int


DEPTH = Limit("query_too_deep", "depth", MAX_DEPTH)
ALIASES = Limit("too_many_aliases", "aliases", MAX_ALIASES)
COST = Limit("query_too_costly", "cost (the nodes it may return)", MAX_COST)


class _Walk:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.defaults: dict[str, Any] = {}
        self.mutation_root = schema.mutation_type
        self.spread = functools.cache(self._spread)

    def selections(self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None) -> Measure:
        total = Measure()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(inner or parent, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.spread(selection.name.value)
        return total

    def _spread(self, name: str) -> Measure:
        fragment = self.fragments[name]
        parent = self.schema.get_type(fragment.type_condition.name.value)
        return self.selections(parent, fragment.selection_set) if parent else Measure()

    def field(self, parent: GraphQLNamedType, node: FieldNode) -> Measure:
        definition = (
            getattr(parent, "fields", {}).get(node.name.value) if not node.name.value.startswith("__") else None
        )
        alias = 1 if node.alias else 0
        if definition is None or not is_composite_type(get_named_type(definition.type)):
            return Measure(depth=1, aliases=alias)
        inner = self.selections(get_named_type(definition.type), node.selection_set)
        count, own = self.count(definition, node)
        if parent is self.mutation_root:
            own = MUTATION_COST
        return Measure(depth=inner.depth + 1, aliases=alias + inner.aliases, cost=own + count * inner.cost)

    def count(self, definition: GraphQLField, node: FieldNode) -> tuple[int, int]:
        """(how many times its selections run, the nodes the field itself returns)."""
        extensions = definition.extensions or {}
        if "page" in extensions:  # a connection: its edges' nodes carry the count, edges/node themselves cost 0
            page = extensions["page"]
            first = self.argument(node, "first", default=page["default"], worst=page["maximum"])
            return first, first
        if "listed_by" in extensions:  # nodes(ids:): one node per id
            size = self.argument(node, extensions["listed_by"], default=0, worst=extensions["maximum"], length=True)
            return size, size
        if extensions.get("wrapper"):  # a connection's edges, an edge's node, pageInfo: counted by the connection
            return 1, 0
        return 1, 1  # one object (a model's short list of objects, a score's reasons, counts as one too)

    def argument(self, node: FieldNode, name: str, *, default: int, worst: int, length: bool = False) -> int:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value, self.defaults.get(value.name.value))
                if length:
                    return len(given) if isinstance(given, list) else worst
                return given if isinstance(given, int) else worst
            if length and isinstance(value, ListValueNode):
                return len(value.values)
            if isinstance(value, IntValueNode):
                return int(value.value)
            return worst
        return default


def measure(
    schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any] | None, operation_name: str | None
) -> Measure:
    """What the operation that would run asks for (a document graphql-core has validated)."""
    walk = _Walk(schema, document, {k: v for k, v in (variables or {}).items() if isinstance(v, int | list)})
    operation = _operation(document, operation_name)
    if operation is None:
        return Measure()
    for definition in operation.variable_definitions or ():
        if isinstance(definition.default_value, IntValueNode):
            walk.defaults[definition.variable.name.value] = int(definition.default_value.value)
    root = schema.get_root_type(operation.operation)
    return walk.selections(root, operation.selection_set) if root else Measure()


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        if name is None or (operation.name and operation.name.value == name):
            return operation
    return None


def exceeded(found: Measure) -> list[GraphQLError]:
    """One error per limit the query is over, naming the limit, the query's value and the maximum."""
    errors = []
    for limit, value in ((DEPTH, found.depth), (ALIASES, found.aliases), (COST, found.cost)):
        if value > limit.maximum:
            errors.append(
                GraphQLError(
                    f"query {limit.what} is {value}, over the maximum of {limit.maximum}; nothing was run",
                    extensions={
                        "code": limit.code,
                        "details": {"limit": limit.what, "value": value, "maximum": limit.maximum},
                    },
                )
            )
    return errors
