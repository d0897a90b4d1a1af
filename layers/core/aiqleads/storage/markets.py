"""MarketSignalsTable: each tenant's monthly market snapshots; scoring reads the latest one (cached briefly).

    pk = <tenant>#<market>, sk = <period YYYY-MM>; the item holds tenant_id and the snapshot's fields

Snapshots are a tenant's own (its admin writes them), so one tenant's market data never reaches another's
scores. The latest snapshot of a (tenant, market) is one Query, newest period first, kept for `cache_seconds`
per process; this repository's own writes drop what it cached for the keys they touch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from aiqleads.iam import Access, access
from aiqleads.models import MarketSnapshot
from aiqleads.storage.aws import DynamoTable
from aiqleads.storage.batch import batch_put
from aiqleads.storage.codec import decode_item, encode_item

CACHE_SECONDS = 60.0
_NOT_SNAPSHOT = ("pk", "sk", "tenant_id")


def market_key(tenant_id: str, market: str) -> str:
    return f"{tenant_id}#{market}"


class MarketSignalRepository(DynamoTable):
    """The latest snapshot per (tenant, market), for scoring, and all of them, for a training set; `MarketSignalStore`
    also writes and reads by period."""

    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:Query", on="table_name"),)

    def __init__(self, table_name: str, dynamodb: Any | None = None, cache_seconds: float = CACHE_SECONDS):
        super().__init__(table_name, dynamodb)
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[float, MarketSnapshot | None]] = {}

    @staticmethod
    def item(tenant_id: str, snapshot: MarketSnapshot) -> dict[str, Any]:
        key = {"pk": market_key(tenant_id, snapshot.market), "sk": snapshot.period, "tenant_id": tenant_id}
        return key | snapshot.model_dump()

    @staticmethod
    def _snapshot(item: dict[str, Any]) -> MarketSnapshot:
        decoded = decode_item(item)
        return MarketSnapshot.model_validate({k: v for k, v in decoded.items() if k not in _NOT_SNAPSHOT})

    def latest(self, tenant_id: str, market: str) -> MarketSnapshot | None:
        cached = self._cache.get((tenant_id, market))
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        response = self.dynamodb.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": market_key(tenant_id, market)}},
            ScanIndexForward=False,
            Limit=1,
        )
        items = response.get("Items", [])
        snapshot = self._snapshot(items[0]) if items else None
        self._cache[tenant_id, market] = (now, snapshot)
        return snapshot

    def history(self, tenant_id: str, market: str) -> list[MarketSnapshot]:
        """Every snapshot of the market, oldest period first (a training set picks each lead's month); not cached."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": market_key(tenant_id, market)}},
        }
        pages = self.dynamodb.get_paginator("query").paginate(**request)
        return [self._snapshot(item) for page in pages for item in page.get("Items", [])]


class MarketSignalStore(MarketSignalRepository):
    """The market routes and market signal files: snapshots stored one (PutItem) or many (BatchWriteItem) at a
    time, read by period (GetItem)."""

    IAM = (
        *MarketSignalRepository.IAM,
        access("dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:GetItem", on="table_name"),
    )

    def put(self, tenant_id: str, snapshot: MarketSnapshot) -> bool:
        """Store (or replace) one snapshot; True when it is new."""
        response = self.dynamodb.put_item(
            TableName=self.table_name, Item=encode_item(self.item(tenant_id, snapshot)), ReturnValues="ALL_OLD"
        )
        self._cache.pop((tenant_id, snapshot.market), None)
        return not response.get("Attributes")

    def put_many(self, tenant_id: str, snapshots: Sequence[MarketSnapshot]) -> int:
        """Upsert snapshots (BatchWriteItem, 25 a call; one (market, period) at most once per call)."""
        written = batch_put(self.dynamodb, self.table_name, (self.item(tenant_id, s) for s in snapshots))
        for snapshot in snapshots:
            self._cache.pop((tenant_id, snapshot.market), None)
        return written

    def get(self, tenant_id: str, market: str, period: str) -> MarketSnapshot | None:
        response = self.dynamodb.get_item(
            TableName=self.table_name, Key={"pk": {"S": market_key(tenant_id, market)}, "sk": {"S": period}}
        )
        item = response.get("Item")
        return self._snapshot(item) if item else None
