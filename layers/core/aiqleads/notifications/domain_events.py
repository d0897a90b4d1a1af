"""Domain events: one envelope for every event the system publishes (SNS, then webhooks).

The id is stable for the event's whole life (retries, redeliveries), so receivers and our own notifier can
deduplicate on it. Message attributes carry what subscribers filter on (type, tenant, market, grade, score).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

EventType = Literal[
    "lead.scored",
    "lead.score_changed",
    "bulk.completed",
    "recommendations.ready",
    "model.promoted",
    "model.rescored",
    "model.trained",
]


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def utc_now() -> datetime:
    return datetime.now(UTC)


class DomainEvent(BaseModel):
    id: str = Field(default_factory=new_event_id)
    type: EventType
    tenant_id: str
    occurred_at: datetime = Field(default_factory=utc_now)
    data: dict[str, Any]

    def attributes(self) -> dict[str, str | int | float]:
        """SNS message attributes for filter policies: type and tenant always, market/grade/score when known."""
        attributes: dict[str, str | int | float] = {"event_type": self.type, "tenant_id": self.tenant_id}
        for key in ("market", "grade", "score", "source"):
            value = self.data.get(key)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                attributes[key] = value
        return attributes
