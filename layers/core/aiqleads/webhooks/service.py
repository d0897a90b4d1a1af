"""The subscriptions API's operations, tenant-scoped: every call names the caller's tenant."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aiqleads.errors import Conflict, InvalidInput, NotFound
from aiqleads.webhooks.delivery import attempt_once
from aiqleads.webhooks.models import (
    TEST_EVENT_TYPE,
    DeliveryAttempt,
    DeliveryList,
    SecretRotated,
    TestDeliveryResult,
    WebhookCreate,
    WebhookCreated,
    WebhookEndpoint,
    WebhookList,
    WebhookPayload,
    WebhookView,
    new_endpoint_id,
)
from aiqleads.webhooks.settings import WebhookSettings
from aiqleads.webhooks.signing import new_secret
from aiqleads.webhooks.store import WebhookStore
from aiqleads.webhooks.transport import HttpTransport, Transport
from aiqleads.webhooks.urls import UnsafeUrl, UrlPolicy


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        settings: WebhookSettings,
        *,
        policy: UrlPolicy | None = None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy or UrlPolicy(allow_loopback=settings.allow_loopback)
        self.transport = transport or HttpTransport()
        self.clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _require(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
        endpoint = self.store.get_endpoint(tenant_id, endpoint_id)
        if endpoint is None:
            raise NotFound(f"no webhook endpoint {endpoint_id!r}", {"id": endpoint_id})
        return endpoint

    def create(self, tenant_id: str, request: WebhookCreate) -> WebhookCreated:
        try:
            self.policy.check(request.url)
        except UnsafeUrl as error:
            raise InvalidInput(f"url: {error}", [{"field": "url", "message": str(error)}]) from None
        if len(self.store.list_endpoints(tenant_id)) >= self.settings.max_endpoints_per_tenant:
            raise Conflict(
                f"a tenant has at most {self.settings.max_endpoints_per_tenant} webhook endpoints; delete one first",
                {"max": self.settings.max_endpoints_per_tenant},
            )
        now = self._now()
        endpoint = WebhookEndpoint(
            id=new_endpoint_id(),
            tenant_id=tenant_id,
            url=request.url,
            event_types=list(request.event_types),
            filter=request.filter,
            description=request.description,
            created_at=now,
            updated_at=now,
            secret=new_secret(),
        )
        self.store.create_endpoint(endpoint)
        return WebhookCreated(**endpoint.view().model_dump(), secret=endpoint.secret)

    def list(self, tenant_id: str) -> WebhookList:
        endpoints = sorted(self.store.list_endpoints(tenant_id), key=lambda e: (e.created_at, e.id))
        return WebhookList(data=[endpoint.view() for endpoint in endpoints])

    def get(self, tenant_id: str, endpoint_id: str) -> WebhookView:
        return self._require(tenant_id, endpoint_id).view()

    def delete(self, tenant_id: str, endpoint_id: str) -> None:
        if not self.store.delete_endpoint(tenant_id, endpoint_id):
            raise NotFound(f"no webhook endpoint {endpoint_id!r}", {"id": endpoint_id})

    def rotate_secret(self, tenant_id: str, endpoint_id: str) -> SecretRotated:
        endpoint = self._require(tenant_id, endpoint_id)
        now = self._now()
        expires = now + timedelta(seconds=self.settings.rotation_grace_seconds)
        secret = new_secret()
        if not self.store.rotate_secret(tenant_id, endpoint_id, secret, endpoint.secret, expires, now):
            raise NotFound(f"no webhook endpoint {endpoint_id!r}", {"id": endpoint_id})
        return SecretRotated(id=endpoint_id, secret=secret, previous_secret_expires_at=expires)

    def enable(self, tenant_id: str, endpoint_id: str) -> WebhookView:
        self._require(tenant_id, endpoint_id)
        self.store.enable_endpoint(tenant_id, endpoint_id, self._now())
        return self._require(tenant_id, endpoint_id).view()

    def deliveries(self, tenant_id: str, endpoint_id: str, limit: int = 50) -> DeliveryList:
        self._require(tenant_id, endpoint_id)
        return DeliveryList(data=self.store.list_attempts(tenant_id, endpoint_id, limit))

    def send_test(self, tenant_id: str, endpoint_id: str) -> TestDeliveryResult:
        """One signed `webhook.test` message now, synchronously (no retries); recorded in the deliveries."""
        endpoint = self._require(tenant_id, endpoint_id)
        now = self.clock()
        message_id = f"msg_test_{uuid.uuid4().hex}"
        payload = WebhookPayload(
            type=TEST_EVENT_TYPE,
            timestamp=datetime.fromtimestamp(now, UTC),
            data={"endpoint_id": endpoint_id, "message": "a test delivery from AIQLeads"},
        )
        response = attempt_once(
            endpoint,
            message_id,
            payload.body().encode(),
            policy=self.policy,
            transport=self.transport,
            settings=self.settings,
            now=now,
        )
        attempt = DeliveryAttempt(
            event_id=message_id,
            event_type=TEST_EVENT_TYPE,
            attempt=1,
            at=datetime.fromtimestamp(now, UTC),
            status_code=response.status,
            latency_ms=round(response.latency_ms, 1),
            outcome="delivered" if response.delivered else "failed",
            error=None if response.delivered else (response.error or f"HTTP {response.status}"),
            response_excerpt=response.body_excerpt or None,
        )
        self.store.record_attempt(tenant_id, endpoint_id, attempt)
        return TestDeliveryResult(delivered=response.delivered, attempt=attempt)
