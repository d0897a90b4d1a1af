"""What the webhooks code needs from storage (DynamoDB in storage/webhooks.py; a fake in tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from aiqleads.webhooks.models import DeliveryAttempt, DeliveryTask, WebhookEndpoint

ClaimKind = Literal["claimed", "resume", "duplicate"]
FinalStatus = Literal["delivered", "retrying", "dead", "dropped"]


@dataclass(frozen=True, slots=True)
class Claim:
    """`claimed`: this task may send attempt (`round`, `attempt`). `resume`: the attempt was made and recorded as
    failed but its retry may not have been queued (a crash in between): queue it, send nothing. `duplicate`:
    another copy of this task did (or is doing) the work: send nothing."""

    kind: ClaimKind
    round: int
    attempt: int
    status: str = ""  # the state found (for `resume`: retrying or dead)


class WebhookStore(Protocol):
    # endpoints
    def create_endpoint(self, endpoint: WebhookEndpoint) -> None: ...
    def get_endpoint(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None: ...
    def list_endpoints(self, tenant_id: str) -> list[WebhookEndpoint]: ...
    def delete_endpoint(self, tenant_id: str, endpoint_id: str) -> bool: ...
    def rotate_secret(
        self, tenant_id: str, endpoint_id: str, secret: str, previous: str, previous_expires_at: datetime, now: datetime
    ) -> bool: ...
    def enable_endpoint(self, tenant_id: str, endpoint_id: str, now: datetime) -> bool: ...
    def disable_endpoint(self, tenant_id: str, endpoint_id: str, reason: str, now: datetime) -> bool:
        """True when this call disabled it (it was active): exactly one caller alerts."""
        ...

    def mark_failing(self, tenant_id: str, endpoint_id: str, now: datetime) -> datetime | None:
        """Set failing_since unless set; return its value (None if the endpoint is gone)."""
        ...

    def clear_failing(self, tenant_id: str, endpoint_id: str) -> None: ...

    # per (event, endpoint) delivery state: the exactly-once guard
    def claim(self, task: DeliveryTask, now: float, lease_until: float) -> Claim: ...
    def finish(self, task: DeliveryTask, status: FinalStatus, now: float) -> bool:
        """False when the claim was lost (another copy took over after the lease expired)."""
        ...

    # attempt history
    def record_attempt(self, tenant_id: str, endpoint_id: str, attempt: DeliveryAttempt) -> None: ...
    def list_attempts(self, tenant_id: str, endpoint_id: str, limit: int) -> list[DeliveryAttempt]: ...
