"""Operational alerts for the alerts topic (SNS): one envelope, filterable by type, severity and tenant.

    from aiqleads.notifications.alerts import Alert
    from aiqleads.storage.alerts import AlertPublisher
    AlertPublisher(settings.alerts_topic_arn).publish(
        Alert(type="bulk.job_failed", tenant_id=tenant, summary="bulk job j-1 failed", details={"job_id": "j-1"}))

Subscribers (email, SQS, chat bridges) filter on the message attributes `alert_type`, `severity`, `tenant_id`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

AlertType = Literal[
    "webhook.endpoint_disabled",  # an endpoint answered 410 Gone or failed for days: its owner must act
    "webhook.dead_lettered",  # a delivery used its last attempt and sits in the notify dead-letter queue
    "event.dead_lettered",  # SNS refused a domain event for good: it sits in the publisher's dead-letter queue
    "queue.dead_letters",  # a dead-letter queue is not empty (any queue)
    "queue.dead_lettered",  # a message failed on its queue's last receive: SQS moves it to the dead-letter queue
    "bulk.job_failed",  # a bulk scoring job stopped for good
    "bulk.upload_refused",  # an upload whose tenant could not be established (none named, or unknown): not stored
    "model.drift",  # a model's inputs or score moved from its training baseline (PSI at "act")
    "model.performance",  # a model's live ROC AUC fell by more than AlertAucDrop below its training AUC
    "model.calibration",  # a grade's observed conversion left the band around its expected conversion
]
Severity = Literal["info", "warning", "critical"]


class Alert(BaseModel):
    id: str = Field(default_factory=lambda: f"alr_{uuid.uuid4().hex}")
    type: AlertType
    severity: Severity = "warning"
    tenant_id: str | None = Field(default=None, description="whose resource it concerns; None for the platform")
    summary: str = Field(max_length=200)
    details: dict[str, Any] = Field(default_factory=dict)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def attributes(self) -> dict[str, str]:
        attributes: dict[str, str] = {"alert_type": self.type, "severity": self.severity}
        if self.tenant_id:
            attributes["tenant_id"] = self.tenant_id
        return attributes


class AlertSink(Protocol):
    def publish(self, alert: Alert) -> None: ...
