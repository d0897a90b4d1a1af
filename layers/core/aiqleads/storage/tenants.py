"""TenantsTable: one item per tenant (what `aiqleads tenants create` writes; keys are issued only to tenants here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from botocore.exceptions import ClientError

from aiqleads.iam import Access, access
from aiqleads.storage.aws import DynamoTable, condition_failed
from aiqleads.storage.codec import decode_item, encode_item
from aiqleads.tenants.service import DEFAULT_HALF_LIFE_DAYS, Challengers, Tenant


class TenantRepository(DynamoTable):
    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:GetItem", "dynamodb:PutItem", on="table_name"),)

    def get(self, tenant_id: str) -> Tenant | None:
        response = self.dynamodb.get_item(
            TableName=self.table_name, Key={"tenant_id": {"S": tenant_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return Tenant.model_validate(decode_item(item)) if item else None

    def save(self, tenant: Tenant) -> None:
        self.dynamodb.put_item(TableName=self.table_name, Item=encode_item(tenant.model_dump(mode="json")))

    def create(self, tenant: Tenant) -> bool:
        try:
            self.dynamodb.put_item(
                TableName=self.table_name,
                Item=encode_item(tenant.model_dump(mode="json")),
                ConditionExpression="attribute_not_exists(tenant_id)",
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True


class TenantDirectory(TenantRepository):
    """What the training function reads: every tenant (the schedule trains each) and each one's policy."""

    IAM = (access("dynamodb:GetItem", "dynamodb:Scan", on="table_name"),)

    def tenant_ids(self) -> Iterator[str]:
        # A Scan: TenantsTable holds one small item per tenant, read once per scheduled run.
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table_name, ProjectionExpression="tenant_id"
        )
        for page in pages:
            for item in page.get("Items", []):
                yield item["tenant_id"]["S"]

    def half_life_days(self, tenant_id: str) -> float:
        tenant = self.get(tenant_id)
        return tenant.engagement_half_life_days if tenant else DEFAULT_HALF_LIFE_DAYS

    def retrain_on_alert(self, tenant_id: str) -> bool:
        tenant = self.get(tenant_id)
        return tenant.retrain_on_alert if tenant else False

    def challengers(self, tenant_id: str) -> Challengers:
        tenant = self.get(tenant_id)
        return tenant.challengers if tenant else "keep"
