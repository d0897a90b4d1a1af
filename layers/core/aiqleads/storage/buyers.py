"""BuyersTable: buyer profiles per tenant (the demo seeder writes them in bulk).

pk = <tenant>#<buyer id>, sk = profile. The same table holds purchases, served recommendations, feedback and the
tenant's rules (storage/recommendations.py) and webhooks (storage/webhooks.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from aiqleads.iam import Access, access
from aiqleads.models import Buyer
from aiqleads.storage.aws import DynamoTable
from aiqleads.storage.batch import batch_put

PROFILE_SK = "profile"


def buyer_key(tenant_id: str, buyer_id: str) -> str:
    return f"{tenant_id}#{buyer_id}"


class BuyerRepository(DynamoTable):
    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:BatchWriteItem", "dynamodb:GetItem", on="table_name"),)

    def profile_item(self, tenant_id: str, buyer: Buyer) -> dict[str, Any]:
        return {
            "pk": buyer_key(tenant_id, buyer.id),
            "sk": PROFILE_SK,
            "tenant_id": tenant_id,
            "buyer_id": buyer.id,
            "tier": buyer.tier.value,
            "buyer": buyer.model_dump_json(),
        }

    def put_many(self, tenant_id: str, buyers: Iterable[Buyer]) -> int:
        return batch_put(self.dynamodb, self.table_name, (self.profile_item(tenant_id, b) for b in buyers))

    def get(self, tenant_id: str, buyer_id: str) -> Buyer | None:
        response = self.dynamodb.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": buyer_key(tenant_id, buyer_id)}, "sk": {"S": PROFILE_SK}},
        )
        item = response.get("Item")
        return Buyer.model_validate_json(item["buyer"]["S"]) if item else None
