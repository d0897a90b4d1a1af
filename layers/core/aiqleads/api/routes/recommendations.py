"""/v1/recommendations: ranked, explained leads per buyer (cursor pages), one recommendation, feedback, and
generation jobs for many buyers at once."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel

from aiqleads import telemetry
from aiqleads.api.context import Caller, caller, recommendation_jobs, recommendations
from aiqleads.api.links import produces
from aiqleads.api.responses import json_response
from aiqleads.models import Id, Recommendation, RecommendationFeedback
from aiqleads.recommendations.jobs import GenerateRequest, JobAccepted, RecommendationJobs
from aiqleads.recommendations.service import MAX_LIMIT, RecommendationPage, RecommendationService

router = APIGatewayRouter()

CallerDep = Annotated[Caller, Depends(caller)]
ServiceDep = Annotated[RecommendationService, Depends(recommendations)]
JobsDep = Annotated[RecommendationJobs, Depends(recommendation_jobs)]


class FeedbackRecorded(BaseModel):
    id: Id
    buyer_id: Id
    lead_id: Id
    feedback: RecommendationFeedback
    recorded_at: str


@router.get(
    "/v1/recommendations",
    summary="A buyer's recommended leads, best first, one cursor page at a time",
    openapi_extensions=produces(recommendation_id="/data/0/id"),
)
def list_recommendations(
    who: CallerDep,
    service: ServiceDep,
    buyer_id: Annotated[str, Query(min_length=1, max_length=128, description="the buyer to recommend leads to")],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size (the tier may allow fewer)")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=1024, description="meta.next_cursor of the previous page; omit for page 1")
    ] = None,
    score_min: Annotated[int, Query(ge=0, le=100, description="lowest model score (0-100)")] = 0,
    market: Annotated[str | None, Query(max_length=64, description="only this market (must be allowed)")] = None,
) -> RecommendationPage:
    with telemetry.recommendation_request():
        return service.recommend(
            who.tenant_id, buyer_id, limit=limit, cursor=cursor or None, score_min=score_min, market=market or None
        )


@router.post(
    "/v1/recommendations/generate",
    summary="Rank leads for many buyers in the background; poll the job, results land in S3",
    responses={202: {"description": "queued"}},
    openapi_extensions=produces(job_id="/job_id"),
)
def generate(request: GenerateRequest, who: CallerDep, jobs: JobsDep) -> Response[JobAccepted]:
    accepted = jobs.submit(who.tenant_id, request)
    return json_response(202, accepted, accepted.status_url)


@router.get("/v1/recommendations/<recommendation_id>", summary="One served recommendation with its metadata")
def get_recommendation(recommendation_id: str, who: CallerDep, service: ServiceDep) -> Recommendation:
    return service.get_recommendation(who.tenant_id, recommendation_id)


@router.patch(
    "/v1/recommendations/<recommendation_id>",
    summary="Feedback on a recommendation (accuracy, usefulness, status, notes), stored for training",
)
def give_feedback(
    recommendation_id: str, feedback: RecommendationFeedback, who: CallerDep, service: ServiceDep
) -> FeedbackRecorded:
    recorded: dict[str, Any] = service.give_feedback(who.tenant_id, recommendation_id, feedback)
    return FeedbackRecorded.model_validate(recorded)
