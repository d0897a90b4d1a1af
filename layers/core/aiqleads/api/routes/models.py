"""/v1/models (versions, metrics, which one serves) and /v1/jobs/{id} (background jobs of either kind)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, caller, recommendation_jobs
from aiqleads.recommendations.jobs import JobView, RecommendationJobs
from aiqleads.scoring.catalog import ModelList, list_models

router = APIGatewayRouter()

CallerDep = Annotated[Caller, Depends(caller)]
JobsDep = Annotated[RecommendationJobs, Depends(recommendation_jobs)]


@router.get("/v1/models", summary="Model versions with their evaluation metrics, and the one serving")
def get_models(who: CallerDep) -> ModelList:
    return list_models()


@router.get("/v1/jobs/<job_id>", summary="A background job's progress and, once done, where its results are")
def get_job(job_id: str, who: CallerDep, jobs: JobsDep) -> JobView:
    return jobs.status(who.tenant_id, job_id)
