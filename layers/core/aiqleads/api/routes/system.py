"""/v1/health and /v1/openapi.json (no API key needed)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.schemas import Health
from aiqleads.composition import default_scorer
from aiqleads.settings import ApiSettings

router = APIGatewayRouter()


@router.get("/v1/health", summary="Liveness, with the serving model's version")
def health() -> Health:
    return Health(status="ok", stage=ApiSettings.current().stage, model_version=default_scorer().model_version)


@router.get("/v1/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
def openapi() -> Response[Any]:
    from aiqleads.api.app import openapi_document

    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document())
