"""Query and mutation fields over recommendations and models (the same services as their REST routes)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLArgument, GraphQLField, GraphQLID, GraphQLInt, GraphQLNonNull, GraphQLString

from aiqleads.api.graphql import relay
from aiqleads.api.graphql.derive import argument, connection, object_type, page
from aiqleads.api.routes.recommendations import FeedbackRecorded
from aiqleads.errors import DomainError, InvalidInput
from aiqleads.models import Buyer, Recommendation, RecommendationFeedback
from aiqleads.registry.records import ModelList


def resolve_recommendations(_: Any, info: Any, buyer: str | None = None, buyerId: str | None = None,  # noqa: N803
                            first: int | None = None, after: str | None = None) -> Any:  # fmt: skip
    from aiqleads.api.graphql.schema import DEFAULT_PAGE, MAX_PAGE, Page

    context = info.context
    buyer_id = relay.local_id("Buyer", {"buyer": buyer, "buyerId": buyerId})
    limit = DEFAULT_PAGE if first is None else first
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE}", [{"field": "first", "message": "out of range"}])
    page = context.recommendations.recommend(context.tenant_id, buyer_id, limit=limit, cursor=after or None)
    # Cursors are per page (they pin the ranking time and the page): every edge resumes after its page.
    cursor = page.meta.next_cursor or ""
    return Page(
        edges=[{"node": item, "cursor": cursor} for item in page.data],
        has_next_page=page.meta.has_more,
        end_cursor=page.meta.next_cursor,
    )


def resolve_models(_: Any, info: Any) -> ModelList:
    return info.context.models.versions(info.context.tenant_id)


def resolve_buyer(_: Any, info: Any, buyerId: str) -> Buyer | None:  # noqa: N803
    context = info.context
    try:
        found: Buyer = context.recommendations.get_buyer(
            context.tenant_id, relay.local_id("Buyer", {"buyerId": buyerId})
        )
    except DomainError:
        return None
    return found


def resolve_give_feedback(_: Any, info: Any, input: dict[str, Any], recommendation: str | None = None,
                          recommendationId: str | None = None) -> FeedbackRecorded:  # noqa: N803  # fmt: skip
    from aiqleads.api.graphql.schema import _validated

    context = info.context
    rec_id = relay.local_id("Recommendation", {"recommendation": recommendation, "recommendationId": recommendationId})
    feedback = _validated(RecommendationFeedback, input, "input")
    recorded = context.recommendations.give_feedback(context.tenant_id, rec_id, feedback)
    return FeedbackRecorded.model_validate(recorded)


def query_fields() -> dict[str, GraphQLField]:
    from aiqleads.api.graphql.schema import DEFAULT_PAGE, MAX_PAGE

    return {
        "recommendations": GraphQLField(
            GraphQLNonNull(connection(object_type(Recommendation))),
            args={
                **relay.id_arguments("buyer", "buyerId", what="buyer"),
                "first": GraphQLArgument(GraphQLInt, description="page size (default 20; the tier may allow fewer)"),
                "after": GraphQLArgument(GraphQLString, description="endCursor of the previous page"),
            },
            resolve=resolve_recommendations,
            description="the buyer's recommended leads, best first",
            extensions=page(DEFAULT_PAGE, MAX_PAGE),
        ),
        "buyer": GraphQLField(
            object_type(Buyer),
            args={"buyerId": GraphQLArgument(GraphQLNonNull(GraphQLID), description="its id or its global id")},
            resolve=resolve_buyer,
            description="one buyer of the caller's tenant, or null",
        ),
        "models": GraphQLField(GraphQLNonNull(object_type(ModelList)), resolve=resolve_models),
    }


def mutation_fields() -> dict[str, GraphQLField]:
    return {
        "giveFeedback": GraphQLField(
            GraphQLNonNull(object_type(FeedbackRecorded)),
            args={
                **relay.id_arguments("recommendation", "recommendationId", what="recommendation"),
                "input": argument(RecommendationFeedback),
            },
            resolve=resolve_give_feedback,
        )
    }
