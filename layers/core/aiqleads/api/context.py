"""Per-request collaborators: the caller's tenant and role (from the authorizer) and the services (one per process)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Request
from aws_lambda_powertools.event_handler.depends import Depends

from aiqleads import composition
from aiqleads.bulk import state as bulk_state
from aiqleads.errors import Forbidden, Unauthorized
from aiqleads.jobs.status import JobStatuses
from aiqleads.leads.service import LeadService
from aiqleads.markets import imports as market_imports
from aiqleads.markets.service import MarketSignalService
from aiqleads.monitoring import jobs as monitor_job
from aiqleads.monitoring.jobs import MonitorJobs
from aiqleads.recommendations import jobs as recommendation_job
from aiqleads.recommendations.jobs import RecommendationJobs
from aiqleads.recommendations.service import RecommendationService
from aiqleads.registry.service import ModelRegistry
from aiqleads.rescoring import jobs as rescore_jobs
from aiqleads.rescoring import schedule as rescore_schedule
from aiqleads.storage.monitoring import MonitorRunReader
from aiqleads.tenants.query_budget import CostBudget, QueryBudgets
from aiqleads.training import jobs as training_job
from aiqleads.training.jobs import TrainingJobs
from aiqleads.webhooks.service import WebhookService

Role = Literal["admin", "member"]


@dataclass(frozen=True, slots=True)
class Caller:
    tenant_id: str
    tier: str
    role: Role = "member"
    key_id: str = ""  # the API key's id (its GraphQL cost bucket is per key, as its usage plan is)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def caller(request: Request) -> Caller:
    """Who is calling, as the authorizer established it; the request body never names the tenant. A key whose
    context names no role (or one this API does not know) is a member."""
    context = request.resolved_event.request_context.authorizer.get_context()  # type: ignore[attr-defined]
    tenant_id = context.get("tenant_id") if context else None
    if not tenant_id:
        raise Unauthorized("no tenant in the request context (is the authorizer configured for this route?)")
    role: Role = "admin" if context.get("role") == "admin" else "member"
    return Caller(tenant_id=str(tenant_id), tier=str(context.get("tier", "basic")), role=role,
                  key_id=str(context.get("key_id") or tenant_id))  # fmt: skip


def admin(who: Annotated[Caller, Depends(caller)]) -> Caller:
    """The caller, if its key is an admin key of its tenant; a member key is refused (403 `forbidden`)."""
    if not who.is_admin:
        raise Forbidden(
            "this route needs an admin API key of the tenant; this key is a member key",
            {"role": who.role, "required_role": "admin"},
        )
    return who


# The routes' dependencies (tests override them): the API function's services, wired on first use.
def leads() -> LeadService:
    return composition.api_leads()


def markets() -> MarketSignalService:
    return composition.api_markets()


def models() -> ModelRegistry:
    composition.api_global_default()
    return composition.api_models()


def training_jobs() -> TrainingJobs:
    return composition.api_training_jobs()


def monitor_jobs() -> MonitorJobs:
    return composition.api_monitor_jobs()


def monitor_runs() -> MonitorRunReader:
    return composition.api_monitor_runs()


def recommendations() -> RecommendationService:
    return composition.api_recommendations()


def recommendation_jobs() -> RecommendationJobs:
    return composition.api_recommendation_jobs()


def job_statuses(jobs: Annotated[RecommendationJobs, Depends(recommendation_jobs)]) -> JobStatuses:
    # Both kinds of job share JobsTable; the recommendation jobs' wiring is the one that opens it.
    readers = {
        recommendation_job.JOB_KIND: recommendation_job.job_view,
        market_imports.JOB_KIND: market_imports.job_view,
        rescore_jobs.JOB_KIND: rescore_jobs.job_view,
        rescore_schedule.SCHEDULE_RECORD_KIND: rescore_schedule.not_a_job,  # bookkeeping: 404
        training_job.JOB_KIND: training_job.job_view,
        monitor_job.JOB_KIND: monitor_job.job_view,
    }
    return JobStatuses(jobs.jobs, readers, default=bulk_state.job_view)


def query_budgets() -> QueryBudgets:
    return composition.api_query_budgets()


def cost_budgets() -> dict[str, CostBudget]:
    return composition.api_cost_budgets()


def webhooks() -> WebhookService:
    return composition.api_webhooks()
