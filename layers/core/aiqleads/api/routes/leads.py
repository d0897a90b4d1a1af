"""/v1/leads: ingest and score, batch ingest, score without storing, read a lead and its score."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, caller, leads
from aiqleads.api.responses import json_response
from aiqleads.api.schemas import BatchResult, LeadBatch, StoredLead
from aiqleads.leads.service import MAX_BATCH, LeadService
from aiqleads.models import Lead, Score

router = APIGatewayRouter()

CallerDep = Annotated[Caller, Depends(caller)]
LeadsDep = Annotated[LeadService, Depends(leads)]


@router.post("/v1/leads", summary="Store a lead and score it", responses={201: {"description": "stored and scored"}})
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
def get_lead(lead_id: str, who: CallerDep, service: LeadsDep) -> StoredLead:
    record: Any = service.get(who.tenant_id, lead_id)
    return StoredLead(
        lead=record.lead,
        score=record.score,
        conversions=record.conversions,
        stored_at=record.stored_at,
        scored_at=record.scored_at,
    )


@router.get("/v1/leads/<lead_id>/score", summary="The current score of a stored lead")
def get_lead_score(lead_id: str, who: CallerDep, service: LeadsDep) -> Score:
    return service.current_score(who.tenant_id, lead_id)
