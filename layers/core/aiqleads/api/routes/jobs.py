"""/v1/jobs/{id}: a background job's progress, whichever kind it is (bulk scoring, recommendations)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, caller, job_statuses
from aiqleads.jobs.status import JobStatuses, JobView

router = APIGatewayRouter()

CallerDep = Annotated[Caller, Depends(caller)]
JobsDep = Annotated[JobStatuses, Depends(job_statuses)]


@router.get("/v1/jobs/<job_id>", summary="A background job's progress and, once done, where its results are")
def get_job(job_id: str, who: CallerDep, jobs: JobsDep) -> JobView:
    return jobs.get(who.tenant_id, job_id)
