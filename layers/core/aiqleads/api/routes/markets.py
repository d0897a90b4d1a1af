"""/v1/markets: the tenant's market signals, one monthly snapshot per market (the market inputs of its scores)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, admin, caller, markets
from aiqleads.api.links import produces
from aiqleads.api.responses import json_response
from aiqleads.markets.service import LATEST, MarketSignalService
from aiqleads.models import PERIOD_PATTERN, SLUG_SCHEMA_PATTERN, TEXT_MAX, MarketSignals, MarketSnapshot

MarketPath = Annotated[str, Path(pattern=SLUG_SCHEMA_PATTERN, max_length=TEXT_MAX["market"], description="a slug")]
PeriodPath = Annotated[str, Path(pattern=PERIOD_PATTERN, description="calendar month, YYYY-MM")]
PeriodOrLatest = Annotated[str, Path(pattern=f"({PERIOD_PATTERN})|(^{LATEST}$)", description=f"YYYY-MM or {LATEST}")]

router = APIGatewayRouter()

AdminDep = Annotated[Caller, Depends(admin)]
CallerDep = Annotated[Caller, Depends(caller)]
ServiceDep = Annotated[MarketSignalService, Depends(markets)]


@router.put(
    "/v1/markets/<market>/snapshots/<period>",
    summary="Create or replace the tenant's snapshot of a market for a month (YYYY-MM); admin keys only",
    description=(
        "The latest period of a market is what the tenant's scores use from then on (other warm functions within"
        " a minute). The body holds the signals; the market (a slug) and the period come from the path."
    ),
    responses={
        200: {"description": "replaced"},
        201: {"description": "created"},
        403: {"description": "not an admin key"},
        422: {"description": "invalid market, period or signals (details name each field)"},
    },
    openapi_extensions=produces(market="/market", period="/period"),
)
def put_snapshot(
    market: MarketPath, period: PeriodPath, signals: MarketSignals, who: AdminDep, service: ServiceDep
) -> Response[MarketSnapshot]:
    snapshot, created = service.put(who.tenant_id, market, period, signals)
    location = f"/v1/markets/{snapshot.market}/snapshots/{snapshot.period}"
    return json_response(201, snapshot, location) if created else json_response(200, snapshot)


@router.get(
    "/v1/markets/<market>/snapshots/<period>",
    summary=f"The tenant's snapshot of a market for a month (YYYY-MM), or its latest ('{LATEST}')",
    responses={200: {"description": "the snapshot"}, 404: {"description": "no such snapshot"}},
)
def get_snapshot(market: MarketPath, period: PeriodOrLatest, who: CallerDep, service: ServiceDep) -> MarketSnapshot:
    return service.get(who.tenant_id, market, period)
