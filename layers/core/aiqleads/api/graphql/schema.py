"""The GraphQL schema: queries and mutations over the same services and models as the REST API.

    node(id), nodes(ids), lead(leadId), leads(filter, first, after), buyer(buyerId),
    (LeadRecord.scoreHistory(first, after), LeadRecord.trend)
    recommendations(buyer, first, after), models
    ingestLead, recordEvent, recordConversion, giveFeedback(recommendation, input)

Lists are Relay connections; LeadRecord, Buyer and Recommendation are Relay nodes (relay.py): `id` is a global id,
the REST id is `leadId`/`buyerId`/`recommendationId`, identifiers are `ID`s. Deprecated (one release):
lead(id: String), recommendations(buyerId: String), giveFeedback(recommendationId: String). Errors follow the GraphQL spec, with our error codes (and field details) in
`extensions`, the same codes the REST envelope uses.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from graphql import (
    GraphQLArgument,
    GraphQLError,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
)
from pydantic import ValidationError

from aiqleads.api.graphql import relay
from aiqleads.api.graphql.derive import argument, connection, enum_type, extra_fields, object_type, page
from aiqleads.api.schemas import ConversionsRecorded, EventsAccepted, StoredLead
from aiqleads.errors import DomainError, InvalidInput
from aiqleads.leads.history import HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT
from aiqleads.leads.service import LeadFilter, LeadService
from aiqleads.models import Conversion, Grade, Interaction, Lead, Score, ScoreHistoryEntry
from aiqleads.validation.fields import field_errors, summary

MAX_PAGE = 100
DEFAULT_PAGE = 20
logger = Logger(child=True)


@dataclass(frozen=True, slots=True)
class Context:
    """What resolvers may use: the caller's tenant and the services (never the raw event)."""

    tenant_id: str
    leads: LeadService
    recommendations: Any  # RecommendationService (resolved per request, like the REST routes)
    models: Any  # ModelRegistry
    extensions: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    edges: list[dict[str, Any]]
    has_next_page: bool
    end_cursor: str | None


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, tenant_id: str) -> dict[str, str] | None:
    if not cursor:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput(
            "after: not a cursor this API returned", [{"field": "after", "message": "invalid cursor"}]
        ) from None
    if not isinstance(position, dict) or position.get("gsi2pk") != tenant_id:
        raise InvalidInput("after: not a cursor this API returned", [{"field": "after", "message": "invalid cursor"}])
    return {str(k): str(v) for k, v in position.items()}


def _validated(model: Any, data: Any, argument_name: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        details = field_errors(error, (argument_name,))
        raise InvalidInput(summary(details), details) from None


def _first(value: int | None) -> int:
    if value is None:
        return DEFAULT_PAGE
    if not 1 <= value <= MAX_PAGE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE}", [{"field": "first", "message": "out of range"}])
    return value


# ------------------------------------------------------------------------------------------------ resolvers
def find_lead(context: Context, lead_id: str) -> StoredLead | None:
    record = context.leads.leads.get(context.tenant_id, lead_id)
    if record is None:
        return None
    return StoredLead.of(record, context.leads.clock())


def resolve_lead(_: Any, info: Any, leadId: str | None = None, id: str | None = None) -> StoredLead | None:  # noqa: N803
    return find_lead(info.context, relay.local_id("LeadRecord", {"leadId": leadId, "id": id}))


def resolve_leads(_: Any, info: Any, filter: dict[str, Any] | None = None, first: int | None = None,
                  after: str | None = None) -> Page:  # fmt: skip
    context: Context = info.context
    where = LeadFilter(**(filter or {}))
    found, resume = context.leads.browse(
        context.tenant_id, _first(first), decode_cursor(after, context.tenant_id), where
    )
    now = context.leads.clock()
    edges = [{"node": StoredLead.of(r, now), "cursor": encode_cursor(position)} for r, position in found]
    return Page(edges=edges, has_next_page=resume is not None, end_cursor=encode_cursor(resume) if resume else None)


def resolve_score_history(record: StoredLead, info: Any, first: int | None = None, after: str | None = None) -> Page:
    """LeadRecord.scoreHistory: the REST route's pages (GET /v1/leads/{id}/score/history), as a connection."""
    context: Context = info.context
    limit = HISTORY_DEFAULT_LIMIT if first is None else first
    if not 1 <= limit <= HISTORY_MAX_LIMIT:
        raise InvalidInput(
            f"first must be between 1 and {HISTORY_MAX_LIMIT}", [{"field": "first", "message": "out of range"}]
        )
    entries, cursors, resume = context.leads.history(context.tenant_id, record.lead.id, limit, after or None)
    edges = [{"node": entry, "cursor": cursor} for entry, cursor in zip(entries, cursors, strict=True)]
    return Page(edges=edges, has_next_page=resume is not None, end_cursor=resume)


def _lead_record_fields() -> dict[str, GraphQLField]:
    return {
        "scoreHistory": GraphQLField(
            GraphQLNonNull(connection(object_type(ScoreHistoryEntry))),
            args={
                "first": GraphQLArgument(
                    GraphQLInt, description=f"page size, 1-{HISTORY_MAX_LIMIT} (default {HISTORY_DEFAULT_LIMIT})"
                ),
                "after": GraphQLArgument(GraphQLString, description="endCursor (or an edge's cursor) of a page"),
            },
            resolve=resolve_score_history,
            extensions=page(HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT),
            description="every written score of the lead, newest first (time, cause, model version, fields)",
        )
    }


extra_fields(StoredLead, _lead_record_fields)


def resolve_ingest_lead(_: Any, info: Any, input: dict[str, Any]) -> Score:
    context: Context = info.context
    return context.leads.ingest(context.tenant_id, _validated(Lead, input, "input"))


def resolve_record_event(_: Any, info: Any, input: dict[str, Any]) -> EventsAccepted:
    context: Context = info.context
    event_ids = context.leads.accept_interactions(context.tenant_id, [_validated(Interaction, input, "input")])
    return EventsAccepted(accepted=len(event_ids), event_ids=event_ids)


def resolve_record_conversion(_: Any, info: Any, input: dict[str, Any]) -> ConversionsRecorded:
    context: Context = info.context
    recorded = context.leads.record_conversions(context.tenant_id, [_validated(Conversion, input, "input")])
    return ConversionsRecorded(recorded=recorded)


LEAD_FILTER = GraphQLInputObjectType(
    "LeadFilter",
    {
        "market": GraphQLInputField(GraphQLString),
        "source": GraphQLInputField(GraphQLString),
        "grade": GraphQLInputField(enum_type(Grade)),
        "scoreMin": GraphQLInputField(GraphQLInt, out_name="score_min"),
    },
)


def _query_fields(extra: dict[str, GraphQLField]) -> dict[str, GraphQLField]:
    stored = object_type(StoredLead, "LeadRecord")
    return {
        **relay.query_fields(),
        "lead": GraphQLField(
            stored,
            args=relay.id_arguments("leadId", "id", what="lead"),
            resolve=resolve_lead,
            description="one lead of the caller's tenant, or null",
        ),
        "leads": GraphQLField(
            GraphQLNonNull(connection(stored)),
            args={
                "filter": GraphQLArgument(LEAD_FILTER),
                "first": GraphQLArgument(GraphQLInt, description=f"page size, 1-{MAX_PAGE} (default 20)"),
                "after": GraphQLArgument(GraphQLString, description="endCursor of the previous page"),
            },
            resolve=resolve_leads,
            extensions=page(DEFAULT_PAGE, MAX_PAGE),
            description="the tenant's leads, newest first",
        ),
        **extra,
    }


def _mutation_fields(extra: dict[str, GraphQLField]) -> dict[str, GraphQLField]:
    return {
        "ingestLead": GraphQLField(
            GraphQLNonNull(object_type(Score)), args={"input": argument(Lead)}, resolve=resolve_ingest_lead
        ),
        "recordEvent": GraphQLField(
            GraphQLNonNull(object_type(EventsAccepted)),
            args={"input": argument(Interaction)},
            resolve=resolve_record_event,
        ),
        "recordConversion": GraphQLField(
            GraphQLNonNull(object_type(ConversionsRecorded)),
            args={"input": argument(Conversion)},
            resolve=resolve_record_conversion,
        ),
        **extra,
    }


@functools.cache
def schema() -> GraphQLSchema:
    from aiqleads.api.graphql.extensions import mutation_fields, query_fields

    return GraphQLSchema(
        query=GraphQLObjectType("Query", lambda: _query_fields(query_fields())),
        mutation=GraphQLObjectType("Mutation", lambda: _mutation_fields(mutation_fields())),
    )


def format_error(error: GraphQLError) -> dict[str, Any]:
    """The spec's error shape, with our code and details in extensions."""
    formatted: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    if isinstance(original, DomainError):
        formatted["message"] = original.message
        formatted["extensions"] = {"code": original.code, "details": original.details}
    elif original is not None:
        logger.error("GraphQL resolver failed", exc_info=original)
        formatted["message"] = "something went wrong on our side; it has been logged"
        formatted["extensions"] = {"code": "internal_error"}
    elif not (error.extensions or {}).get("code"):  # a limit's error (limits.py) names its own code
        formatted["extensions"] = {"code": "graphql_validation_error"}
    return formatted
