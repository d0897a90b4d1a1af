"""/v1/leads: ingest and score, batch ingest, score without storing, read a lead, its score and its score history."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, caller, leads
from aiqleads.api.links import produces
from aiqleads.api.params import ClientIdPath
from aiqleads.api.responses import json_response
from aiqleads.api.schemas import BatchResult, LeadBatch, ScoreHistoryMeta, ScoreHistoryPage, StoredLead
from aiqleads.leads.history import HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT
from aiqleads.leads.service import MAX_BATCH, LeadService
from aiqleads.models import Lead, Score

router = APIGatewayRouter()

CallerDep = Annotated[Caller, Depends(caller)]
LeadsDep = Annotated[LeadService, Depends(leads)]


@router.post(
    "/v1/leads",
    summary="Store a lead and score it",
    responses={201: {"description": "stored and scored"}},
    openapi_extensions=produces(lead_id="/lead_id"),
)
def create_lead(lead: Lead, who: CallerDep, service: LeadsDep) -> Response[Score]:
    score = service.ingest(who.tenant_id, lead)
    return json_response(201, score, f"/v1/leads/{lead.id}")


@router.post("/v1/leads/batch", summary=f"Store and score up to {MAX_BATCH} leads, with a result per item")
def create_leads(batch: LeadBatch, who: CallerDep, service: LeadsDep) -> BatchResult:
    results = [item.as_dict() for item in service.ingest_many(who.tenant_id, batch.leads)]
    created = sum(1 for item in results if item["status"] == 201)
    return BatchResult.model_validate({"data": results, "meta": {"created": created, "failed": len(results) - created}})


@router.post("/v1/leads/score", summary="Score a lead without storing it")
def score_lead(lead: Lead, who: CallerDep, service: LeadsDep) -> Score:
    return service.score(who.tenant_id, lead)


@router.get("/v1/leads/<lead_id>", summary="A stored lead with its current score and outcomes")
def get_lead(lead_id: ClientIdPath, who: CallerDep, service: LeadsDep) -> StoredLead:
    record: Any = service.get(who.tenant_id, lead_id)
    return StoredLead.of(record, service.clock())


@router.get("/v1/leads/<lead_id>/score", summary="The current score of a stored lead")
def get_lead_score(lead_id: ClientIdPath, who: CallerDep, service: LeadsDep) -> Score:
    return service.current_score(who.tenant_id, lead_id)


@router.get(
    "/v1/leads/<lead_id>/score/history",
    summary="Every written score of a stored lead (time, cause, model version, the score's fields), newest first",
)
def get_lead_score_history(
    lead_id: ClientIdPath,
    who: CallerDep,
    service: LeadsDep,
    limit: Annotated[int, Query(ge=1, le=HISTORY_MAX_LIMIT, description="page size")] = HISTORY_DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=1024, description="meta.next_cursor of the previous page; omit for page 1")
    ] = None,
) -> ScoreHistoryPage:
    entries, _, next_cursor = service.history(who.tenant_id, lead_id, limit, cursor or None)
    meta = ScoreHistoryMeta(
        lead_id=lead_id, count=len(entries), limit=limit, has_more=next_cursor is not None, next_cursor=next_cursor
    )
    return ScoreHistoryPage(data=entries, meta=meta)
