"""Query and mutation fields over recommendations and models (the same services as their REST routes)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLArgument, GraphQLField, GraphQLInt, GraphQLNonNull, GraphQLString

from aiqleads.api.graphql.derive import argument, connection, object_type
from aiqleads.api.routes.recommendations import FeedbackRecorded
from aiqleads.errors import InvalidInput
from aiqleads.models import Recommendation, RecommendationFeedback
from aiqleads.registry.records import ModelList


def resolve_recommendations(_: Any, info: Any, buyerId: str, first: int | None = None, after: str | None = None) -> Any:  # noqa: N803
    from aiqleads.api.graphql.schema import MAX_PAGE, Page

    context = info.context
    limit = 20 if first is None else first
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE}", [{"field": "first", "message": "out of range"}])
    page = context.recommendations.recommend(context.tenant_id, buyerId, limit=limit, cursor=after or None)
    # Cursors are per page (they pin the ranking time and the page): every edge resumes after its page.
    cursor = page.meta.next_cursor or ""
    return Page(
        edges=[{"node": item, "cursor": cursor} for item in page.data],
        has_next_page=page.meta.has_more,
        end_cursor=page.meta.next_cursor,
    )


def resolve_models(_: Any, info: Any) -> ModelList:
    return info.context.models.versions(info.context.tenant_id)


def resolve_give_feedback(_: Any, info: Any, recommendationId: str, input: dict[str, Any]) -> FeedbackRecorded:  # noqa: N803
    from aiqleads.api.graphql.schema import _validated

    context = info.context
    feedback = _validated(RecommendationFeedback, input, "input")
    recorded = context.recommendations.give_feedback(context.tenant_id, recommendationId, feedback)
    return FeedbackRecorded.model_validate(recorded)


def query_fields() -> dict[str, GraphQLField]:
    return {
        "recommendations": GraphQLField(
            GraphQLNonNull(connection(object_type(Recommendation))),
            args={
                "buyerId": GraphQLArgument(GraphQLNonNull(GraphQLString)),
                "first": GraphQLArgument(GraphQLInt, description="page size (default 20; the tier may allow fewer)"),
                "after": GraphQLArgument(GraphQLString, description="endCursor of the previous page"),
            },
            resolve=resolve_recommendations,
            description="the buyer's recommended leads, best first",
        ),
        "models": GraphQLField(GraphQLNonNull(object_type(ModelList)), resolve=resolve_models),
    }


def mutation_fields() -> dict[str, GraphQLField]:
    return {
        "giveFeedback": GraphQLField(
            GraphQLNonNull(object_type(FeedbackRecorded)),
            args={
                "recommendationId": GraphQLArgument(GraphQLNonNull(GraphQLString)),
                "input": argument(RecommendationFeedback),
            },
            resolve=resolve_give_feedback,
        )
    }
