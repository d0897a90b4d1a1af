"""Relay Global Object Identification: the `Node` interface, global ids, node(id:) and nodes(ids:).

A global id is base64url("<TypeName>:<local id>") without padding: opaque to clients, never carrying the tenant
(that comes from the API key, as everywhere). Each refetchable type is one `NodeKind` below; `derive.object_type`
gives its GraphQL type `id: ID!` (the global id), the local id under its own name (`leadId`, `buyerId`,
`recommendationId`) and the `Node` interface. node(id:) answers null for a malformed id, an unknown type, or an
object the caller's tenant does not have, with no error, so a response never tells whether an id exists elsewhere.

Arguments that name an object take an `ID` (its local id or its global id); where such an argument used to be a
`String`, the String one stays for one release with a deprecationReason (a `String!` variable cannot be passed
where `ID` is expected, so retyping it in place would break today's queries).
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLID,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLString,
)
from pydantic import BaseModel

from aiqleads.errors import DomainError, InvalidInput

MAX_NODES = 100


@dataclass(frozen=True, slots=True)
class NodeKind:
    """How one model is a Relay node (or, with `fetch` None, carries the global id of one)."""

    type_name: str  # the GraphQL type's name
    model: type[BaseModel]
    local_field: str  # snake_case: the field the local (REST) id is served under
    local_id: Callable[[Any], str]
    fetch: Callable[[Any, str], Any] | None  # (context, local id) -> the object of the caller's tenant, or None
    id_of: str | None = None  # the node type whose global id `id` holds, when not this type's own

    @property
    def global_type(self) -> str:
        return self.id_of or self.type_name


def _fetch_lead(context: Any, lead_id: str) -> Any:
    from aiqleads.api.graphql.schema import find_lead

    return find_lead(context, lead_id)


def _fetch_buyer(context: Any, buyer_id: str) -> Any:
    return context.recommendations.get_buyer(context.tenant_id, buyer_id)


def _fetch_recommendation(context: Any, rec_id: str) -> Any:
    return context.recommendations.get_recommendation(context.tenant_id, rec_id)


def _recommendation_id(recommendation: Any) -> str:
    from aiqleads.recommendations.ids import recommendation_id

    return str(recommendation.id or recommendation_id(recommendation.buyer_id, recommendation.lead_id))


@functools.cache
def kinds() -> dict[type[BaseModel], NodeKind]:
    from aiqleads.api.routes.recommendations import FeedbackRecorded
    from aiqleads.api.schemas import StoredLead
    from aiqleads.models import Buyer, Recommendation

    found = [
        NodeKind("LeadRecord", StoredLead, "lead_id", lambda record: str(record.lead.id), _fetch_lead),
        NodeKind("Buyer", Buyer, "buyer_id", lambda buyer: str(buyer.id), _fetch_buyer),
        NodeKind("Recommendation", Recommendation, "recommendation_id", _recommendation_id, _fetch_recommendation),
        # The result of giveFeedback: its id is the recommendation's global id (node(id:) returns the Recommendation).
        NodeKind(
            "FeedbackRecorded", FeedbackRecorded, "recommendation_id", lambda r: str(r.id), None, "Recommendation"
        ),
    ]
    return {kind.model: kind for kind in found}


def kind_of(model: type[BaseModel]) -> NodeKind | None:
    return kinds().get(model)


def _by_type_name() -> dict[str, NodeKind]:
    return {kind.type_name: kind for kind in kinds().values() if kind.fetch is not None}


def to_global_id(type_name: str, local_id: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{local_id}".encode()).decode().rstrip("=")


def from_global_id(global_id: str) -> tuple[NodeKind, str] | None:
    """(kind, local id) for a global id this API issued; None for anything else."""
    try:
        raw = base64.b64decode(global_id + "=" * (-len(global_id) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    type_name, separator, local_id = raw.partition(":")
    kind = _by_type_name().get(type_name)
    if not separator or not local_id or kind is None or to_global_id(type_name, local_id) != global_id:
        return None
    return kind, local_id


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def global_id_field(kind: NodeKind) -> GraphQLField:
    return GraphQLField(
        GraphQLNonNull(GraphQLID),
        description=f"global id (Relay Node): opaque, refetch it with node(id:); the REST id is {_camel(kind.local_field)}",
        resolve=lambda source, info: to_global_id(kind.global_type, kind.local_id(source)),
    )


def local_id_field(kind: NodeKind) -> GraphQLField:
    return GraphQLField(
        GraphQLNonNull(GraphQLID),
        description="the local id, as REST paths and bodies use it",
        resolve=lambda source, info: kind.local_id(source),
    )


def _resolve_type(value: Any, info: Any, abstract_type: Any) -> str | None:
    kind = kinds().get(type(value))
    return kind.type_name if kind is not None else None


NODE = GraphQLInterfaceType(
    "Node",
    lambda: {"id": GraphQLField(GraphQLNonNull(GraphQLID), description="global id: opaque, stable, tenant-free")},
    resolve_type=_resolve_type,
    description="An object with a global id, refetchable through node(id:) (Relay Global Object Identification)",
)


# ------------------------------------------------------------------------------------------------ arguments
def id_arguments(name: str, deprecated: str | None = None, *, what: str) -> dict[str, GraphQLArgument]:
    """`name: ID` (a local or a global id) and, when the argument used to be a String, the old one deprecated."""
    arguments = {name: GraphQLArgument(GraphQLID, description=f"the {what}: its id or its global id")}
    if deprecated is not None:
        arguments[deprecated] = GraphQLArgument(
            GraphQLString,
            description=f"the {what}'s id, as a String",
            deprecation_reason=f"use `{name}` (the same id, typed ID); `{deprecated}` goes in the next release",
        )
    return arguments


def local_id(type_name: str, arguments: dict[str, str | None]) -> str:
    """The local id given through exactly one of `arguments` (name -> value), a global id of `type_name` decoded."""
    given = {name: value for name, value in arguments.items() if value is not None}
    if len(given) != 1:
        names = " or ".join(arguments)
        raise InvalidInput(f"give exactly one of {names}", [{"field": next(iter(arguments)), "message": "required"}])
    (value,) = given.values()
    found = from_global_id(value)
    if found is not None and found[0].type_name == type_name:
        return found[1]
    return value


# ------------------------------------------------------------------------------------------------ queries
def _refetch(context: Any, global_id: str) -> Any:
    found = from_global_id(global_id)
    if found is None:
        return None
    kind, local = found
    assert kind.fetch is not None
    try:
        return kind.fetch(context, local)
    except DomainError:  # not found, or not the caller's: the same null either way
        return None


def resolve_node(_: Any, info: Any, id: str) -> Any:
    return _refetch(info.context, id)


def resolve_nodes(_: Any, info: Any, ids: list[str]) -> list[Any]:
    if len(ids) > MAX_NODES:
        raise InvalidInput(f"ids: at most {MAX_NODES}", [{"field": "ids", "message": "too many"}])
    return [_refetch(info.context, global_id) for global_id in ids]


def query_fields() -> dict[str, GraphQLField]:
    return {
        "node": GraphQLField(
            NODE,
            args={"id": GraphQLArgument(GraphQLNonNull(GraphQLID))},
            resolve=resolve_node,
            description="the object with this global id, or null (malformed, unknown, or not the caller's)",
        ),
        "nodes": GraphQLField(
            GraphQLNonNull(GraphQLList(NODE)),
            args={"ids": GraphQLArgument(GraphQLNonNull(GraphQLList(GraphQLNonNull(GraphQLID))))},
            resolve=resolve_nodes,
            extensions={"listed_by": "ids", "maximum": MAX_NODES},  # its cost: one node per id (limits.py)
            description=f"node(id:) for up to {MAX_NODES} ids, in order (null where node(id:) would be)",
        ),
    }
