"""Webhook subscriptions, deliveries and the messages the notify queue carries (one schema each)."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aiqleads.models import Slug
from aiqleads.notifications.domain_events import DomainEvent, EventType
from aiqleads.webhooks.urls import UnsafeUrl, UrlPolicy

EndpointStatus = Literal["active", "disabled"]
Outcome = Literal["delivered", "retrying", "dead_lettered", "endpoint_disabled", "failed", "skipped"]
TEST_EVENT_TYPE = "webhook.test"
MAX_EVENT_TYPES = 10
MAX_MARKETS = 50


def new_endpoint_id() -> str:
    return f"wh_{secrets.token_hex(10)}"


class WebhookFilter(BaseModel):
    """Extra conditions on the events an endpoint receives. A condition on a field an event does not carry
    (e.g. `score_min` for `bulk.completed`) does not exclude it: the event types already chose those."""

    model_config = ConfigDict(extra="forbid")

    score_min: float | None = Field(default=None, ge=0, le=100, description="only events with score >= this")
    markets: list[Slug] | None = Field(
        default=None, min_length=1, max_length=MAX_MARKETS, description="only events in these markets"
    )

    def matches(self, data: dict[str, Any]) -> bool:
        score = data.get("score")
        if isinstance(score, bool) or not isinstance(score, int | float):
            score = None
        if self.score_min is not None and score is not None and score < self.score_min:
            return False
        market = data.get("market")
        return not (self.markets is not None and isinstance(market, str) and market not in self.markets)


class WebhookCreate(BaseModel):
    """POST /v1/webhooks. The URL must be https and reach a public address."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2048, examples=["https://crm.example.com/hooks/aiqleads"])
    event_types: list[EventType] = Field(min_length=1, max_length=MAX_EVENT_TYPES)
    filter: WebhookFilter | None = None
    description: str | None = Field(default=None, max_length=200)

    @field_validator("url")
    @classmethod
    def _url_syntax(cls, value: str) -> str:
        try:
            UrlPolicy(allow_loopback=True).parse(value.strip())
        except UnsafeUrl as error:
            raise ValueError(str(error)) from None
        return value.strip()

    @field_validator("event_types")
    @classmethod
    def _unique(cls, value: list[EventType]) -> list[EventType]:
        return list(dict.fromkeys(value))


class WebhookView(BaseModel):
    """An endpoint as its owner sees it (never with its secret, which is shown once)."""

    id: str
    url: str
    event_types: list[EventType]
    filter: WebhookFilter | None = None
    description: str | None = None
    status: EndpointStatus
    disabled_reason: str | None = None
    failing_since: datetime | None = None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookView):
    secret: str = Field(description="whsec_... signing secret; shown only now (rotate it to get a new one)")


class WebhookList(BaseModel):
    data: list[WebhookView]


class SecretRotated(BaseModel):
    id: str
    secret: str = Field(description="the new whsec_... secret; shown only now")
    previous_secret_expires_at: datetime = Field(
        description="until then deliveries carry signatures by both secrets (space-separated)"
    )


class WebhookEndpoint(BaseModel):
    """An endpoint as stored (with its secrets)."""

    id: str
    tenant_id: str
    url: str
    event_types: list[str]
    filter: WebhookFilter | None = None
    description: str | None = None
    status: EndpointStatus = "active"
    disabled_reason: str | None = None
    failing_since: datetime | None = None
    created_at: datetime
    updated_at: datetime
    secret: str
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None

    def signing_secrets(self, now: datetime) -> list[str]:
        keys = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and now < self.previous_secret_expires_at:
            keys.append(self.previous_secret)
        return keys

    def accepts(self, event_type: str, data: dict[str, Any]) -> bool:
        if self.status != "active" or event_type not in self.event_types:
            return False
        return self.filter is None or self.filter.matches(data)

    def view(self) -> WebhookView:
        return WebhookView.model_validate(self.model_dump(include=set(WebhookView.model_fields)))


class WebhookPayload(BaseModel):
    """The body a receiver gets, in the Standard Webhooks shape: type, timestamp, data."""

    type: str
    timestamp: datetime
    data: dict[str, Any]

    @classmethod
    def of(cls, event: DomainEvent) -> WebhookPayload:
        return cls(type=event.type, timestamp=event.occurred_at, data=event.data)

    def body(self) -> str:
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)


class DeliveryTask(BaseModel):
    """One event for one endpoint, on the notify queue. `body` is the exact payload (the same bytes on every
    attempt); `attempt` counts from 1 within `round` (a redrive from the dead-letter queue starts a new round);
    `not_before` is an epoch time: SQS delays at most 900 s, so longer waits hop through the queue."""

    kind: Literal["webhook.delivery"] = "webhook.delivery"
    tenant_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    body: str
    attempt: int = Field(default=1, ge=1)
    round: int = Field(default=0, ge=0)
    not_before: float = 0.0
    dead_lettered: bool = False


class DeliveryAttempt(BaseModel):
    """One attempt as GET /v1/webhooks/{id}/deliveries reports it."""

    event_id: str
    event_type: str
    attempt: int
    round: int = 0
    at: datetime
    status_code: int | None = None
    latency_ms: float
    outcome: Outcome
    error: str | None = None
    next_attempt_at: datetime | None = None
    response_excerpt: str | None = None


class DeliveryList(BaseModel):
    data: list[DeliveryAttempt]


class TestDeliveryResult(BaseModel):
    delivered: bool
    attempt: DeliveryAttempt
