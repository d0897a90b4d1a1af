"""TenantsTable: one item per tenant (what `aiqleads tenants create` writes; keys are issued only to tenants here)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from aiqleads.storage.aws import DynamoTable, condition_failed
from aiqleads.storage.codec import decode_item, encode_item
from aiqleads.tenants.service import Tenant


class TenantRepository(DynamoTable):
    def get(self, tenant_id: str) -> Tenant | None:
        response = self.dynamodb.get_item(
            TableName=self.table_name, Key={"tenant_id": {"S": tenant_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return Tenant.model_validate(decode_item(item)) if item else None

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
