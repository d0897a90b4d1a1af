"""/v1/events and /v1/conversions: behaviour (queued for the events function) and outcomes."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, caller, leads
from aiqleads.api.responses import json_response
from aiqleads.api.schemas import ConversionBatch, ConversionsRecorded, EventsAccepted, InteractionBatch
from aiqleads.leads.service import LeadService

router = APIGatewayRouter()

CallerDep = Annotated[Caller, Depends(caller)]
LeadsDep = Annotated[LeadService, Depends(leads)]


@router.post(
    "/v1/events",
    summary="Record interactions; aggregates and scores update asynchronously",
    responses={202: {"description": "queued"}},
)
def record_events(batch: InteractionBatch, who: CallerDep, service: LeadsDep) -> Response[EventsAccepted]:
    event_ids = service.accept_interactions(who.tenant_id, batch.events)
    return json_response(202, EventsAccepted(accepted=len(event_ids), event_ids=event_ids))


@router.post(
    "/v1/conversions",
    summary="Record outcomes (converted or lost) for training and monitoring",
    responses={201: {"description": "recorded"}},
)
def record_conversions(batch: ConversionBatch, who: CallerDep, service: LeadsDep) -> Response[ConversionsRecorded]:
    recorded = service.record_conversions(who.tenant_id, batch.conversions)
    return json_response(201, ConversionsRecorded(recorded=recorded))
