"""/v1/buyers: buyer profiles (tier, authorised markets, preferences) and their purchases."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, caller, recommendations
from aiqleads.api.links import produces
from aiqleads.api.params import ClientIdPath
from aiqleads.api.responses import json_response
from aiqleads.models import Buyer, PurchaseRequest
from aiqleads.recommendations.service import BuyerProfile, PurchaseRecord, RecommendationService

router = APIGatewayRouter()

CallerDep = Annotated[Caller, Depends(caller)]
ServiceDep = Annotated[RecommendationService, Depends(recommendations)]


@router.put(
    "/v1/buyers/<buyer_id>",
    summary="Create or replace a buyer's profile (tier, authorised markets, preferences)",
    responses={200: {"description": "replaced"}, 201: {"description": "created"}},
    openapi_extensions=produces(buyer_id="/id"),
)
def put_buyer(buyer_id: ClientIdPath, profile: BuyerProfile, who: CallerDep, service: ServiceDep) -> Response[Buyer]:
    buyer, created = service.put_buyer(who.tenant_id, buyer_id, profile)
    return json_response(201, buyer, f"/v1/buyers/{buyer_id}") if created else json_response(200, buyer)


@router.get("/v1/buyers/<buyer_id>", summary="A buyer's profile with the leads they bought")
def get_buyer(buyer_id: ClientIdPath, who: CallerDep, service: ServiceDep) -> Buyer:
    return service.get_buyer(who.tenant_id, buyer_id)


@router.post(
    "/v1/buyers/<buyer_id>/purchases",
    summary="Record a purchase; an exclusive one takes the lead off every other buyer's recommendations",
    responses={201: {"description": "recorded"}, 409: {"description": "already bought, or sold exclusively"}},
)
def record_purchase(
    buyer_id: ClientIdPath, purchase: PurchaseRequest, who: CallerDep, service: ServiceDep
) -> Response[PurchaseRecord]:
    record = service.record_purchase(who.tenant_id, buyer_id, purchase)
    return json_response(201, record)
