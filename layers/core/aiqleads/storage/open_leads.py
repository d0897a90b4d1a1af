"""A tenant's open leads for rescoring after a promotion (LeadsTable): those created inside the label window
(TenantIndex, `gsi2sk >= <window start>`) that have no recorded outcome, read a page at a time with their lead
and score items.

A lead's outcome is known from its conversion items' TenantIndex entries (`<tenant>#outcomes`, whose sort key
ends with the lead id), so which leads are decided costs one keys-only query, never a read of the leads.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiqleads.iam import Access, access
from aiqleads.storage.aws import DynamoTable
from aiqleads.storage.batch import batch_get
from aiqleads.storage.leads import LEAD_SK, OUTCOMES_PARTITION, SCORE_SK, lead_key

TENANT_INDEX = "TenantIndex"
GET_BATCH = 50  # leads per BatchGetItem (two items each, under its 100 keys)
READ_THREADS = 4  # a page's BatchGetItem calls overlap: each waits on the network, not the CPU


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(item: dict[str, Any] | None, name: str) -> str | None:
    value = (item or {}).get(name)
    return None if value is None else str(value.get("S", value.get("N")))


@dataclass(frozen=True, slots=True)
class StoredLead:
    """A lead as rescoring needs it: its wire JSON and what its current score item says."""

    lead_id: str
    lead_json: str
    market: str
    grade: str | None  # None: never scored
    score: int | None
    model_version: str | None
    sold_exclusive_at: str | None
    recent_scores: str | None = None  # the score item's trend points (JSON, leads/trend.py)
    matrix_grade: str | None = None  # None: scored by a model without fit and engagement, or never scored
    probability: float | None = None  # None: never scored
    inputs: str | None = None  # the score's input codes (monitoring.baseline.InputCodes); None without a baseline


class OpenLeadReader(DynamoTable):
    IAM: ClassVar[tuple[Access, ...]] = (
        access("dynamodb:BatchGetItem", on="table_name"),
        access("dynamodb:Query", on="table_name", path=f"index/{TENANT_INDEX}"),
    )

    def count(self, tenant_id: str, since: datetime) -> int:
        """Leads created at or after `since` (what a job's progress counts towards)."""
        request = self._window(tenant_id, since) | {"Select": "COUNT"}
        total = 0
        while True:
            response = self.dynamodb.query(**request)
            total += int(response.get("Count", 0))
            if not response.get("LastEvaluatedKey"):
                return total
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def any_since(self, tenant_id: str, since: datetime) -> bool:
        """Whether any lead was created at or after `since` (the schedule skips a tenant without one: one Query)."""
        request = self._window(tenant_id, since) | {"Limit": 1, "ProjectionExpression": "pk"}
        return bool(self.dynamodb.query(**request).get("Items"))

    def decided(self, tenant_id: str) -> set[str]:
        """The ids of the tenant's leads with any recorded outcome (converted or lost)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": TENANT_INDEX,
            "KeyConditionExpression": "gsi2pk = :partition",
            "ExpressionAttributeValues": {":partition": {"S": f"{tenant_id}{OUTCOMES_PARTITION}"}},
        }
        found: set[str] = set()
        while True:
            response = self.dynamodb.query(**request)
            # gsi2sk = <at>#<lead id>; the time holds no '#', a lead id may
            found.update(item["gsi2sk"]["S"].split("#", 1)[1] for item in response.get("Items", []))
            if not response.get("LastEvaluatedKey"):
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def page(
        self, tenant_id: str, since: datetime, limit: int, after: dict[str, str] | None = None
    ) -> tuple[list[StoredLead], dict[str, str] | None]:
        """Up to `limit` leads of the window (oldest first) with their score items, and where the next page
        starts (None: the window is done). `after` is a position this returned."""
        request = self._window(tenant_id, since) | {"Limit": limit}
        if after:
            request["ExclusiveStartKey"] = {name: {"S": value} for name, value in after.items()}
        response = self.dynamodb.query(**request)
        pks = [item["pk"]["S"] for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return self._leads(pks), None if not last else {name: value["S"] for name, value in last.items()}

    def _window(self, tenant_id: str, since: datetime) -> dict[str, Any]:
        return {
            "TableName": self.table_name,
            "IndexName": TENANT_INDEX,
            "KeyConditionExpression": "gsi2pk = :tenant AND gsi2sk >= :since",
            "ExpressionAttributeValues": {":tenant": {"S": tenant_id}, ":since": {"S": _iso(since)}},
        }

    def _get(self, pks: Sequence[str]) -> list[dict[str, Any]]:
        """The lead and score items of up to GET_BATCH leads (BatchGetItem, its unprocessed keys retried)."""
        names = {
            "#l": "lead",
            "#m": "market",
            "#g": "grade",
            "#s": "score",
            "#v": "model_version",
            "#p": "probability",
            "#i": "inputs",
        }
        keys = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk in pks for sk in (LEAD_SK, SCORE_SK)]
        projection = "pk, sk, lead_id, #l, #m, #g, #s, #v, sold_exclusive_at, recent_scores, matrix_grade, #p, #i"
        return batch_get(
            self.dynamodb, self.table_name, keys, ProjectionExpression=projection, ExpressionAttributeNames=names
        )

    def _leads(self, pks: Sequence[str]) -> list[StoredLead]:
        chunks = [pks[start : start + GET_BATCH] for start in range(0, len(pks), GET_BATCH)]
        with ThreadPoolExecutor(min(READ_THREADS, max(1, len(chunks)))) as pool:
            found = {(i["pk"]["S"], i["sk"]["S"]): i for items in pool.map(self._get, chunks) for i in items}
        leads: list[StoredLead] = []
        for pk in pks:  # index order
            lead, score = found.get((pk, LEAD_SK)), found.get((pk, SCORE_SK))
            if lead is None:
                continue  # deleted (or expired) between the index read and this one
            points, probability = _text(score, "score"), _text(score, "probability")
            leads.append(
                StoredLead(
                    lead_id=str(_text(lead, "lead_id")),
                    lead_json=str(_text(lead, "lead")),
                    market=str(_text(lead, "market")),
                    grade=_text(score, "grade"),
                    score=None if points is None else int(points),
                    model_version=_text(score, "model_version"),
                    sold_exclusive_at=_text(score, "sold_exclusive_at"),
                    recent_scores=_text(score, "recent_scores"),
                    matrix_grade=_text(score, "matrix_grade"),
                    probability=None if probability is None else float(probability),
                    inputs=_text(score, "inputs"),
                )
            )
        return leads


@dataclass(frozen=True, slots=True)
class ServedScore:
    """What a lead's score item says was served: monitoring compares it with the lead's outcome."""

    probability: float
    grade: str
    model_version: str


class ServedScoreReader(DynamoTable):
    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:BatchGetItem", on="table_name"),)

    def served(self, tenant_id: str, lead_ids: Sequence[str]) -> dict[str, ServedScore]:
        """The current score item of each of `lead_ids` that has one (BatchGetItem, 100 keys per call)."""
        keys = [{"pk": {"S": lead_key(tenant_id, i)}, "sk": {"S": SCORE_SK}} for i in dict.fromkeys(lead_ids)]
        names = {"#p": "probability", "#g": "grade", "#v": "model_version"}
        items = batch_get(
            self.dynamodb,
            self.table_name,
            keys,
            ProjectionExpression="lead_id, #p, #g, #v",
            ExpressionAttributeNames=names,
        )
        return {
            str(_text(item, "lead_id")): ServedScore(
                float(str(_text(item, "probability"))), str(_text(item, "grade")), str(_text(item, "model_version"))
            )
            for item in items
        }
