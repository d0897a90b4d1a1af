"""Whose upload it is: the object's `tenant-id` metadata, else its folder (`uploads/<tenant>/<file>`,
`market-signals/<tenant>/<file>`), and that tenant must exist (TenantsTable). An upload whose tenant cannot be
established is refused, never given to a default tenant: nothing is stored, the errors file beside its results
says why and what to do, and an alert (`bulk.upload_refused`) tells the operators. The notification is consumed
(a client's mistake, not a failure to retry)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from aws_lambda_powertools import Logger

from aiqleads.bulk.requests import TENANT_METADATA, UploadRequest, tenant_for
from aiqleads.notifications.alerts import Alert, AlertSink
from aiqleads.tenants.service import Tenant

logger = Logger(child=True)

JSON_LINES = "application/x-ndjson"
REFUSED = "refused"  # what a refused upload's handling returns


class TenantLookup(Protocol):
    def get(self, tenant_id: str) -> Tenant | None: ...


class ErrorsWriter(Protocol):
    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str


def _how_to(prefix: str) -> str:
    return (
        f"upload it again with the object metadata {TENANT_METADATA}=<your tenant id> "
        f"(x-amz-meta-{TENANT_METADATA}) or under {prefix}<your tenant id>/"
    )


class UploadTenancy:
    """Establishes an upload's tenant, or refuses the upload (errors file + alert)."""

    def __init__(self, tenants: TenantLookup, objects: ErrorsWriter, alerts: AlertSink):
        self.tenants, self.objects, self.alerts = tenants, objects, alerts

    def establish(self, key: str, metadata: dict[str, str]) -> str | Refusal:
        prefix = key.split("/", 1)[0] + "/"
        tenant = tenant_for(key, metadata)
        if tenant is None:
            return Refusal(f"the upload names no tenant: {_how_to(prefix)}")
        if self.tenants.get(tenant) is None:
            return Refusal(f"no tenant '{tenant}' exists: {_how_to(prefix)}")
        return tenant

    def refuse(self, request: UploadRequest, errors_key: str, refusal: Refusal) -> str:
        line = {"row": None, "field": TENANT_METADATA, "message": refusal.reason}
        self.objects.put_bytes(request.bucket, errors_key, (json.dumps(line) + "\n").encode(), JSON_LINES)
        self.alerts.publish(
            Alert(
                type="bulk.upload_refused",
                summary=f"upload {PurePosixPath(request.key).name} refused: no tenant established"[:200],
                details={"bucket": request.bucket, "key": request.key, "errors_key": errors_key,
                         "reason": refusal.reason},
            )
        )  # fmt: skip
        logger.warning("upload refused", extra={"key": request.key, "reason": refusal.reason})
        return REFUSED
