"""Per-request collaborators: the caller's tenant (from the authorizer) and the services (one per process)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aws_lambda_powertools.event_handler import Request
from aws_lambda_powertools.event_handler.depends import Depends

from aiqleads import composition
from aiqleads.bulk import state as bulk_state
from aiqleads.errors import Unauthorized
from aiqleads.jobs.status import JobStatuses
from aiqleads.leads.service import LeadService
from aiqleads.recommendations import jobs as recommendation_job
from aiqleads.recommendations.jobs import RecommendationJobs
from aiqleads.recommendations.service import RecommendationService
from aiqleads.webhooks.service import WebhookService


@dataclass(frozen=True, slots=True)
class Caller:
    tenant_id: str
    tier: str


def caller(request: Request) -> Caller:
    """Who is calling, as the authorizer established it; the request body never names the tenant."""
    context = request.resolved_event.request_context.authorizer.get_context()  # type: ignore[attr-defined]
    tenant_id = context.get("tenant_id") if context else None
    if not tenant_id:
        raise Unauthorized("no tenant in the request context (is the authorizer configured for this route?)")
    return Caller(tenant_id=str(tenant_id), tier=str(context.get("tier", "basic")))


# The routes' dependencies (tests override them): the API function's services, wired on first use.
def leads() -> LeadService:
    return composition.api_leads()


def recommendations() -> RecommendationService:
    return composition.api_recommendations()


def recommendation_jobs() -> RecommendationJobs:
    return composition.api_recommendation_jobs()


def job_statuses(jobs: Annotated[RecommendationJobs, Depends(recommendation_jobs)]) -> JobStatuses:
    # Both kinds of job share JobsTable; the recommendation jobs' wiring is the one that opens it.
    readers = {recommendation_job.JOB_KIND: recommendation_job.job_view}
    return JobStatuses(jobs.jobs, readers, default=bulk_state.job_view)


def webhooks() -> WebhookService:
    return composition.api_webhooks()
