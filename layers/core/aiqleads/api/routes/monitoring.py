"""/v1/monitoring and /v1/models/{version}/health: model monitoring runs, on demand and as history."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, admin, caller, monitor_jobs, monitor_runs
from aiqleads.api.links import produces
from aiqleads.api.responses import Response, json_response
from aiqleads.errors import NotFound
from aiqleads.monitoring.jobs import MonitorJobAccepted, MonitorJobs
from aiqleads.monitoring.report import HealthView, MonitorRunPage
from aiqleads.storage.monitoring import MonitorRunReader

router = APIGatewayRouter()

AdminDep = Annotated[Caller, Depends(admin)]
CallerDep = Annotated[Caller, Depends(caller)]
JobsDep = Annotated[MonitorJobs, Depends(monitor_jobs)]
RunsDep = Annotated[MonitorRunReader, Depends(monitor_runs)]


@router.post(
    "/v1/monitoring/runs",
    summary="Monitor the tenant's serving model (and its shadow) now, in the background; admin keys only",
    description=(
        "202 with a job to follow at GET /v1/jobs/{id}. The run compares the last MonitorWindowDays (default 7) of"
        " leads with the model's training baseline (PSI per feature and of the score: 0.1 watch, 0.25 act; the"
        " share of missing values) and the outcomes recorded in the window with the probabilities served (ROC AUC,"
        " Brier, calibration per grade and score decile; below MonitorMinOutcomes, default 100, 'not enough"
        " outcomes'). Alerts go to the alerts topic, at most one per model and kind a day."
    ),
    responses={202: {"description": "queued"}, 403: {"description": "not an admin key"}},
    openapi_extensions=produces(job_id="/job_id"),
)
def start_run(who: AdminDep, jobs: JobsDep) -> Response[MonitorJobAccepted]:
    accepted = jobs.submit(who.tenant_id)
    return json_response(202, accepted, accepted.status_url)


@router.get(
    "/v1/monitoring/runs",
    summary="The tenant's monitoring runs, newest first (for charts of drift and live performance over time)",
    responses={
        200: {"description": "a page of runs"},
        422: {"description": "a limit out of range or a cursor this endpoint did not return"},
    },
)
def list_runs(
    who: CallerDep,
    runs: RunsDep,
    limit: Annotated[int, Query(ge=1, le=100, description="runs per page")] = 20,
    cursor: Annotated[str | None, Query(max_length=400, description="a page's next_cursor")] = None,
) -> MonitorRunPage:
    return runs.runs(who.tenant_id, limit, cursor)


@router.get(
    "/v1/models/<version>/health",
    summary="A model version's latest monitoring figures for the tenant: drift, live performance, alerts",
    responses={
        200: {"description": "the latest run's figures for the version"},
        404: {"description": "no monitoring run has watched this version for the tenant yet"},
    },
)
def get_health(version: str, who: CallerDep, runs: RunsDep) -> HealthView:
    health = runs.health(who.tenant_id, version)
    if health is None:
        raise NotFound(
            f"no monitoring run has watched model {version!r} yet: POST /v1/monitoring/runs starts one",
            {"version": version},
        )
    return health
