"""Shadow scores in LeadsTable, beside the production scores but in a partition of their own per shadow version:

    pk = <tenant>#shadow#<version>,  sk = shadow#<lead id>
    attributes: both models' probabilities, grades and versions, scored_at

One query reads every lead a version shadowed (what `GET /v1/models/{version}` compares). The items carry no
index attributes, so neither ScoreIndex (recommendations) nor TenantIndex (lead listing) ever sees them, and the
sk prefix keeps them apart from a lead item even if a lead's id were `shadow#<version>` (its sks are lead, score,
conversion#...). A lead re-scored later replaces its pair: the comparison is over each lead's latest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from aiqleads.iam import Access, access
from aiqleads.registry.shadow import ShadowPair
from aiqleads.storage.aws import DynamoTable
from aiqleads.storage.codec import decode_item, encode_item
from aiqleads.storage.lead_items import _item, _n, _number, _s

if TYPE_CHECKING:
    from aiqleads.scoring.scorer import BatchScores

SHADOW_SK = "shadow#"


def shadow_partition(tenant_id: str, version: str) -> str:
    return f"{tenant_id}#shadow#{version}"


class ShadowScoreWriter(DynamoTable):
    """The scoring functions' side: one PutItem per shadowed score."""

    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:PutItem", on="table_name"),)

    def put(self, tenant_id: str, pair: ShadowPair) -> None:
        item = {
            "pk": shadow_partition(tenant_id, pair.shadow_version),
            "sk": SHADOW_SK + pair.lead_id,
            "tenant_id": tenant_id,
            "lead_id": pair.lead_id,
            "shadow_version": pair.shadow_version,
            "shadow_probability": pair.shadow_probability,
            "shadow_grade": pair.shadow_grade,
            "production_version": pair.production_version,
            "production_probability": pair.production_probability,
            "production_grade": pair.production_grade,
            "scored_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self.dynamodb.put_item(TableName=self.table_name, Item=encode_item(item))


def shadow_requests(
    tenant_id: str, lead_ids: pa.Array, shadow: BatchScores, production: BatchScores, now: datetime | None = None
) -> list[str]:
    """The pairs of a scored bulk batch (row i of both score sets is lead_ids[i]) as BatchWriteItem put requests'
    JSON, built a column at a time: the items `ShadowScoreWriter.put` writes one by one. A repeated lead id
    keeps its last row, as one write per key must."""
    scored_at = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def numbers(values: Any) -> pa.Array:
        return pa.array([_number(value) for value in values.tolist()], type=pa.string())

    items = _item(
        {
            "pk": _s(shadow_partition(tenant_id, shadow.model_version)),
            "sk": _s(pc.binary_join_element_wise(SHADOW_SK, lead_ids, "")),
            "tenant_id": _s(tenant_id),
            "lead_id": _s(lead_ids),
            "shadow_version": _s(shadow.model_version),
            "shadow_probability": _n(numbers(shadow.probability)),
            "shadow_grade": _s(pa.array(shadow.grade, type=pa.string())),
            "production_version": _s(production.model_version),
            "production_probability": _n(numbers(production.probability)),
            "production_grade": _s(pa.array(production.grade, type=pa.string())),
            "scored_at": _s(scored_at),
        }
    ).to_pylist()
    last = {lead_id: row for row, lead_id in enumerate(lead_ids.to_pylist())}
    return [items[row] for row in last.values()]


class ShadowScoreReader(DynamoTable):
    """The API's side: every pair a version shadowed for the tenant."""

    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:Query", on="table_name"),)

    def pairs(self, tenant_id: str, version: str) -> list[ShadowPair]:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": shadow_partition(tenant_id, version)},
                ":prefix": {"S": SHADOW_SK},
            },
        }
        pairs: list[ShadowPair] = []
        while True:
            response = self.dynamodb.query(**request)
            for raw in response.get("Items", []):
                item = decode_item(raw)
                pairs.append(
                    ShadowPair(
                        lead_id=item["lead_id"],
                        shadow_version=item["shadow_version"],
                        shadow_probability=float(item["shadow_probability"]),
                        shadow_grade=item["shadow_grade"],
                        production_version=item["production_version"],
                        production_probability=float(item["production_probability"]),
                        production_grade=item["production_grade"],
                    )
                )
            if not response.get("LastEvaluatedKey"):
                return pairs
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
