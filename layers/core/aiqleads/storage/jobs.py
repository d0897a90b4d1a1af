"""JobsTable: long-running jobs (bulk uploads) with their checkpoints, leased to one worker at a time.

    pk = <tenant>#<job id>, sk = job
    status      running | completed | failed     (top-level: conditions use it)
    owner       the invocation holding the lease; lease_until its epoch-seconds expiry
    record      the job's own state as JSON (counts, checkpoint, keys), opaque to this repository
    expires_at  TTL (epoch seconds)

Every write after `acquire` is conditional on still holding the lease, so two deliveries of the same work
(a duplicated S3 notification, a redelivered message) can never both advance one job.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from aiqleads.iam import Access, access
from aiqleads.storage.aws import DynamoTable, condition_failed
from aiqleads.storage.codec import decode_item, encode_item, encode_value

JOB_SK = "job"


class LeaseLost(RuntimeError):
    """Another worker holds (or took over) the job's lease: this worker must stop writing to it."""


def job_key(tenant_id: str, job_id: str) -> str:
    return f"{tenant_id}#{job_id}"


@dataclass(frozen=True, slots=True)
class StoredJob:
    tenant_id: str
    job_id: str
    status: str
    record: dict[str, Any]
    owner: str | None = None
    lease_until: float = 0.0


class JobRepository(DynamoTable):
    IAM: ClassVar[tuple[Access, ...]] = (
        access("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", on="table_name"),
    )

    def _key(self, tenant_id: str, job_id: str) -> dict[str, Any]:
        return {"pk": {"S": job_key(tenant_id, job_id)}, "sk": {"S": JOB_SK}}

    @staticmethod
    def _from_item(item: dict[str, Any]) -> StoredJob:
        decoded = decode_item(item)
        return StoredJob(
            tenant_id=decoded["tenant_id"],
            job_id=decoded["job_id"],
            status=decoded["status"],
            record=json.loads(decoded["record"]),
            owner=decoded.get("owner") or None,
            lease_until=float(decoded.get("lease_until", 0)),
        )

    def get(self, tenant_id: str, job_id: str) -> StoredJob | None:
        response = self.dynamodb.get_item(
            TableName=self.table_name, Key=self._key(tenant_id, job_id), ConsistentRead=True
        )
        item = response.get("Item")
        return self._from_item(item) if item else None

    def create(self, tenant_id: str, job_id: str, record: dict[str, Any], expires_at: int) -> bool:
        """Store a new running job; False if the job already exists (it is never overwritten)."""
        item = {
            "pk": job_key(tenant_id, job_id),
            "sk": JOB_SK,
            "tenant_id": tenant_id,
            "job_id": job_id,
            "status": "running",
            "lease_until": 0,
            "record": json.dumps(record),
            "expires_at": expires_at,
        }
        try:
            self.dynamodb.put_item(
                TableName=self.table_name, Item=encode_item(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def acquire(self, tenant_id: str, job_id: str, owner: str, lease_seconds: float) -> StoredJob | None:
        """Take the lease of a running job whose lease is free or expired; None if the job is not running or
        another worker holds it."""
        now = time.time()
        try:
            response = self.dynamodb.update_item(
                TableName=self.table_name,
                Key=self._key(tenant_id, job_id),
                UpdateExpression="SET #owner = :owner, lease_until = :until",
                ConditionExpression="#status = :running AND (lease_until < :now OR #owner = :owner)",
                ExpressionAttributeNames={"#owner": "owner", "#status": "status"},
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":until": encode_value(now + lease_seconds),
                    ":now": encode_value(now),
                    ":running": {"S": "running"},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if condition_failed(error):
                return None
            raise
        return self._from_item(response["Attributes"])

    def save(
        self,
        tenant_id: str,
        job_id: str,
        owner: str,
        record: dict[str, Any],
        *,
        status: str = "running",
        release: bool = False,
        expires_at: int | None = None,
    ) -> None:
        """Write the job's state while holding its lease (LeaseLost otherwise); `release` frees the lease."""
        sets = ["#record = :record", "#status = :status"]
        values: dict[str, Any] = {
            ":record": {"S": json.dumps(record)},
            ":status": {"S": status},
            ":owner": {"S": owner},
        }
        if release:
            sets.append("lease_until = :zero")
            values[":zero"] = {"N": "0"}
        if expires_at is not None:
            sets.append("expires_at = :expires")
            values[":expires"] = {"N": str(int(expires_at))}
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key=self._key(tenant_id, job_id),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner", "#status": "status", "#record": "record"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if condition_failed(error):
                raise LeaseLost(f"job {job_id}: the lease is held by another worker") from None
            raise

    def release(self, tenant_id: str, job_id: str, owner: str) -> None:
        """Free the lease without touching the job's state (a worker that fails lets the retry start at once);
        nothing happens if another worker holds it."""
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key=self._key(tenant_id, job_id),
                UpdateExpression="SET lease_until = :zero",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}, ":zero": {"N": "0"}},
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
