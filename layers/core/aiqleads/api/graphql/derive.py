"""GraphQL types derived from the pydantic models: the models stay the one definition of every type.

Output types resolve snake_case attributes under camelCase field names; input types convert camelCase arguments
back to snake_case dicts, which the same pydantic model then validates (so GraphQL and REST reject the same
input with the same messages). Enums become GraphQL enums named after the members (`SINGLE_FAMILY`) whose values
are the wire values (`single_family`); free-form dicts are the JSON scalar. A field marked `Id` in the models
(`aiqleads.models.IDENTIFIER`) is an `ID`; a model that is a Relay node (relay.kinds) implements `Node`.
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from datetime import datetime
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
)
from pydantic import BaseModel

from aiqleads.api.graphql import relay
from aiqleads.models import IDENTIFIER

JSON = GraphQLScalarType("JSON", description="Any JSON value (free-form attributes)")
DateTime = GraphQLScalarType(
    "DateTime",
    description="An ISO-8601 date-time in UTC, e.g. 2026-11-20T10:00:00Z",
    serialize=lambda value: value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else str(value),
)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@functools.cache
def enum_type(python_enum: type[enum.Enum]) -> GraphQLEnumType:
    return GraphQLEnumType(
        python_enum.__name__,
        {member.name: member.value for member in python_enum},
        description=f"one of: {', '.join(str(m.value) for m in python_enum)}",
    )


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(inner annotation, optional?) for X | None."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0], True
        return Any, True  # a union of scalars (custom attributes): JSON
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation, False


def _is_identifier(annotation: Any) -> bool:
    """Annotated[str, IDENTIFIER], possibly | None: the models' one mark of an identifier."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return any(mark is IDENTIFIER for mark in annotation.__metadata__)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(members) == 1 and _is_identifier(members[0])
    return False


def _scalar(annotation: Any) -> Any:
    if annotation is bool:
        return GraphQLBoolean
    if annotation is int:
        return GraphQLInt
    if annotation is float:
        return GraphQLFloat
    if annotation is str:
        return GraphQLString
    if annotation is datetime:
        return DateTime
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return enum_type(annotation)
    return None


def _graphql_type(annotation: Any, *, required: bool, for_input: bool, identifier: bool = False) -> Any:
    identifier = identifier or _is_identifier(annotation)
    inner, optional = _unwrap(annotation)
    origin = typing.get_origin(inner)
    if origin is typing.Annotated:
        inner = typing.get_args(inner)[0]
        origin = typing.get_origin(inner)
    result: Any
    if origin is typing.Literal:  # a closed set of strings: pydantic checks the value, the text names them
        result = GraphQLString
    elif origin is list:
        (item,) = typing.get_args(inner)
        result = GraphQLList(_graphql_type(item, required=True, for_input=for_input))
    elif origin is dict or inner is Any:
        result = JSON
    elif isinstance(inner, type) and issubclass(inner, BaseModel):
        result = input_type(inner) if for_input else object_type(inner)
    else:
        result = _scalar(inner)
        if result is None:
            raise TypeError(f"no GraphQL type for {inner!r}")
        if identifier and result is GraphQLString:
            result = GraphQLID
    return GraphQLNonNull(result) if required and not optional else result


def _resolver(attribute: str) -> Any:
    def resolve(source: Any, info: Any) -> Any:
        return source.get(attribute) if isinstance(source, dict) else getattr(source, attribute, None)

    return resolve


# Fields a type has beyond its model's (e.g. LeadRecord.scoreHistory, which takes arguments and reads more):
# model -> a thunk of them, registered before the schema is built (schema.py).
_EXTRA_FIELDS: dict[type[BaseModel], Any] = {}


def extra_fields(model: type[BaseModel], thunk: Any) -> None:
    """Add the fields `thunk()` returns to the object type derived from `model`."""
    _EXTRA_FIELDS[model] = thunk


@functools.cache
def object_type(model: type[BaseModel], name: str | None = None) -> GraphQLObjectType:
    kind = relay.kind_of(model)

    def fields() -> dict[str, GraphQLField]:
        derived: dict[str, GraphQLField] = {"id": relay.global_id_field(kind)} if kind else {}
        for field_name, info in model.model_fields.items():
            if kind and field_name in ("id", kind.local_field):  # the local id keeps a name of its own
                derived[camel(kind.local_field)] = relay.local_id_field(kind)
                continue
            derived[camel(field_name)] = GraphQLField(
                typing.cast(
                    GraphQLOutputType,
                    _graphql_type(info.annotation, required=True, for_input=False,
                                  identifier=IDENTIFIER in info.metadata),
                ),
                description=info.description,
                resolve=_resolver(field_name),
            )  # fmt: skip
        if kind:
            derived.setdefault(camel(kind.local_field), relay.local_id_field(kind))
        if model in _EXTRA_FIELDS:
            derived.update(_EXTRA_FIELDS[model]())
        return derived

    if kind and name not in (None, kind.type_name):
        raise TypeError(f"{model.__name__} is the node type {kind.type_name}, not {name}")
    return GraphQLObjectType(
        kind.type_name if kind else name or model.__name__,
        fields,
        interfaces=[relay.NODE] if kind and kind.fetch else None,
        description=(model.__doc__ or "").strip() or None,
    )


@functools.cache
def input_type(model: type[BaseModel], name: str | None = None) -> GraphQLInputObjectType:
    def fields() -> dict[str, GraphQLInputField]:
        return {
            camel(field_name): GraphQLInputField(
                typing.cast(
                    GraphQLInputType,
                    _graphql_type(
                        info.annotation,
                        required=info.is_required(),
                        for_input=True,
                        identifier=IDENTIFIER in info.metadata,
                    ),
                ),
                description=info.description,
                out_name=field_name,
            )
            for field_name, info in model.model_fields.items()
        }

    return GraphQLInputObjectType(name or f"{model.__name__}Input", fields)


def argument(model: type[BaseModel]) -> GraphQLArgument:
    return GraphQLArgument(GraphQLNonNull(input_type(model)))


def page(default: int, maximum: int) -> dict[str, Any]:
    """A connection field's `first`: its default and maximum, read by the resolver and by the query cost (limits)."""
    return {"page": {"default": default, "maximum": maximum}}


# A connection's own fields: the connection field counts their nodes (limits.py), these add none.
WRAPPER = {"wrapper": True}


def connection(node: GraphQLObjectType) -> GraphQLObjectType:
    """A Relay connection of `node`: edges { node cursor } and pageInfo."""
    edge = GraphQLObjectType(
        f"{node.name}Edge",
        {
            "node": GraphQLField(GraphQLNonNull(node), resolve=_resolver("node"), extensions=WRAPPER),
            "cursor": GraphQLField(GraphQLNonNull(GraphQLString), resolve=_resolver("cursor")),
        },
    )
    return GraphQLObjectType(
        f"{node.name}Connection",
        {
            "edges": GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(edge))), resolve=_resolver("edges"), extensions=WRAPPER
            ),
            "pageInfo": GraphQLField(GraphQLNonNull(PAGE_INFO), resolve=lambda page, info: page, extensions=WRAPPER),
        },
    )


PAGE_INFO = GraphQLObjectType(
    "PageInfo",
    {
        "hasNextPage": GraphQLField(GraphQLNonNull(GraphQLBoolean), resolve=_resolver("has_next_page")),
        "endCursor": GraphQLField(GraphQLString, resolve=_resolver("end_cursor")),
    },
)
