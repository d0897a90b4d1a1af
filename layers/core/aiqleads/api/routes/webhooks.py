"""/v1/webhooks: the caller's webhook endpoints (subscriptions), their secrets, tests and delivery history."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, caller, webhooks
from aiqleads.api.links import produces
from aiqleads.api.responses import json_response
from aiqleads.webhooks.models import (
    DeliveryList,
    SecretRotated,
    TestDeliveryResult,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookView,
)
from aiqleads.webhooks.service import WebhookService

router = APIGatewayRouter()

CallerDep = Annotated[Caller, Depends(caller)]


WebhooksDep = Annotated[WebhookService, Depends(webhooks)]


@router.post(
    "/v1/webhooks",
    summary="Subscribe an endpoint to events; the signing secret is returned only now",
    responses={201: {"description": "subscribed"}},
    openapi_extensions=produces(webhook_id="/id"),
)
def create_webhook(subscription: WebhookCreate, who: CallerDep, service: WebhooksDep) -> Response[WebhookCreated]:
    created = service.create(who.tenant_id, subscription)
    return json_response(201, created, f"/v1/webhooks/{created.id}")


@router.get("/v1/webhooks", summary="Your webhook endpoints")
def list_webhooks(who: CallerDep, service: WebhooksDep) -> WebhookList:
    return service.list(who.tenant_id)


@router.get("/v1/webhooks/<webhook_id>", summary="One webhook endpoint")
def get_webhook(webhook_id: str, who: CallerDep, service: WebhooksDep) -> WebhookView:
    return service.get(who.tenant_id, webhook_id)


@router.delete(
    "/v1/webhooks/<webhook_id>",
    summary="Delete an endpoint; its pending deliveries are dropped",
    responses={204: {"description": "deleted"}},
)
def delete_webhook(webhook_id: str, who: CallerDep, service: WebhooksDep) -> Response[Any]:
    service.delete(who.tenant_id, webhook_id)
    return Response(status_code=204, content_type=content_types.APPLICATION_JSON, body="")


@router.post(
    "/v1/webhooks/<webhook_id>/rotate-secret",
    summary="A new signing secret; the previous one keeps signing (a second signature) for a grace period",
)
def rotate_secret(webhook_id: str, who: CallerDep, service: WebhooksDep) -> SecretRotated:
    return service.rotate_secret(who.tenant_id, webhook_id)


@router.post("/v1/webhooks/<webhook_id>/enable", summary="Re-enable a disabled endpoint")
def enable_webhook(webhook_id: str, who: CallerDep, service: WebhooksDep) -> WebhookView:
    return service.enable(who.tenant_id, webhook_id)


@router.post("/v1/webhooks/<webhook_id>/test", summary="Send a signed webhook.test message now and report the result")
def test_webhook(webhook_id: str, who: CallerDep, service: WebhooksDep) -> TestDeliveryResult:
    return service.send_test(who.tenant_id, webhook_id)


@router.get("/v1/webhooks/<webhook_id>/deliveries", summary="Recent delivery attempts, newest first")
def list_deliveries(
    webhook_id: str,
    who: CallerDep,
    service: WebhooksDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> DeliveryList:
    return service.deliveries(who.tenant_id, webhook_id, limit)
