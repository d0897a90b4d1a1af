"""The model registry's storage: ModelsTable (versions and aliases) and the models bucket (artifacts).

    ModelsTable  pk = global | tenant#<tenant>
                 sk = version#<version>   the version's record (metrics, lineage, files with their sha256) as JSON
                 sk = alias#<alias>       what the alias names, when it changed, the production history
    bucket       models/global/<version>/{model.onnx,manifest.json}
                 models/tenants/<tenant>/<version>/{model.onnx,manifest.json}   written once (If-None-Match: *)

Records are JSON strings rather than DynamoDB maps: metrics are floats (DynamoDB numbers would come back as
Decimals) and nothing queries inside them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from aiqleads.iam import Access, access
from aiqleads.registry.records import Alias, AliasState, ModelRecord
from aiqleads.registry.service import MODELS_PREFIX
from aiqleads.storage.aws import DynamoTable, client, condition_failed

_VERSION, _ALIAS = "version#", "alias#"


def partition(tenant: str | None) -> str:
    # "global" never equals "tenant#...": a tenant named global cannot reach the global partition.
    return "global" if tenant is None else f"tenant#{tenant}"


class ModelReader(DynamoTable):
    """What serving reads: one alias and one version record, by key."""

    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:GetItem", on="table_name"),)

    def _get(self, tenant: str | None, sk: str) -> dict[str, Any] | None:
        response = self.dynamodb.get_item(
            TableName=self.table_name, Key={"pk": {"S": partition(tenant)}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def get_version(self, tenant: str | None, version: str) -> ModelRecord | None:
        item = self._get(tenant, _VERSION + version)
        return ModelRecord.model_validate_json(item["record"]["S"]) if item else None

    def alias(self, tenant: str | None, name: Alias) -> AliasState | None:
        item = self._get(tenant, _ALIAS + name)
        return AliasState.model_validate_json(item["record"]["S"]) if item else None


class ModelRepository(ModelReader):
    """The registry's reads and conditional writes (the API function)."""

    IAM = (*ModelReader.IAM, access("dynamodb:PutItem", "dynamodb:Query", on="table_name"))

    def _query(self, tenant: str | None, prefix: str) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": partition(tenant)}, ":prefix": {"S": prefix}},
        }
        pages = self.dynamodb.get_paginator("query").paginate(**request)
        return [item for page in pages for item in page.get("Items", [])]

    def versions(self, tenant: str | None) -> list[ModelRecord]:
        records = [ModelRecord.model_validate_json(i["record"]["S"]) for i in self._query(tenant, _VERSION)]
        return sorted(records, key=lambda r: r.registered_at)

    def aliases(self, tenant: str | None) -> dict[Alias, AliasState]:
        states = [AliasState.model_validate_json(i["record"]["S"]) for i in self._query(tenant, _ALIAS)]
        return {s.alias: s for s in states}

    def put_version(self, record: ModelRecord) -> bool:
        """False when the version exists: a version is written once."""
        return self._put(
            {
                "pk": {"S": partition(record.tenant)},
                "sk": {"S": _VERSION + record.version},
                "version": {"S": record.version},
                "record": {"S": record.model_dump_json()},
            },
            "attribute_not_exists(pk)",
            {},
        )

    def put_alias(self, tenant: str | None, state: AliasState, expected: datetime | None) -> bool:
        """False when the alias is no longer as read (`expected`: its updated_at then; None: it did not exist)."""
        item = {
            "pk": {"S": partition(tenant)},
            "sk": {"S": _ALIAS + state.alias},
            "updated_at": {"S": state.updated_at.isoformat()},
            "record": {"S": state.model_dump_json()},
        }
        if expected is None:
            return self._put(item, "attribute_not_exists(pk)", {})
        return self._put(item, "updated_at = :expected", {":expected": {"S": expected.isoformat()}})

    def _put(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> bool:
        request: dict[str, Any] = {"TableName": self.table_name, "Item": item, "ConditionExpression": condition}
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self.dynamodb.put_item(**request)
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True


_MISSING = {"404", "NoSuchKey", "NotFound"}
_EXISTS = {"PreconditionFailed", "412", "ConditionalRequestConflict"}


class ArtifactReader:
    """Artifacts' bytes from the models bucket (serving: read only)."""

    IAM: ClassVar[tuple[Access, ...]] = (access("s3:GetObject", on="bucket", path=f"{MODELS_PREFIX}*"),)

    def __init__(self, bucket: str, s3: Any | None = None):
        self.bucket = bucket
        self._s3 = s3

    @property
    def s3(self) -> Any:
        return self._s3 or client("s3")

    def get(self, key: str) -> bytes | None:
        try:
            return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in _MISSING:
                return None
            raise


class ArtifactBucket(ArtifactReader):
    """And writes them once: S3 refuses a put over an existing key (If-None-Match: *), so nothing overwrites a
    registered artifact through this code."""

    IAM = (*ArtifactReader.IAM, access("s3:PutObject", on="bucket", path=f"{MODELS_PREFIX}*"))

    def put_once(self, key: str, body: bytes) -> bool:
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in _EXISTS:
                return False
            raise
        return True
