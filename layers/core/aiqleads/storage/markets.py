"""MarketSignalsTable: monthly market snapshots; scoring reads the latest one per market (cached briefly)."""

from __future__ import annotations

import time
from typing import Any

from aiqleads.models import MarketSnapshot
from aiqleads.storage.aws import DynamoTable
from aiqleads.storage.codec import decode_item, encode_item

CACHE_SECONDS = 300.0


class MarketSignalRepository(DynamoTable):
    def __init__(self, table_name: str, dynamodb: Any | None = None, cache_seconds: float = CACHE_SECONDS):
        super().__init__(table_name, dynamodb)
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, MarketSnapshot | None]] = {}

    def put(self, snapshot: MarketSnapshot) -> None:
        self.dynamodb.put_item(TableName=self.table_name, Item=encode_item(snapshot.model_dump()))
        self._cache.pop(snapshot.market, None)

    def latest(self, market: str) -> MarketSnapshot | None:
        cached = self._cache.get(market)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        response = self.dynamodb.query(
            TableName=self.table_name,
            KeyConditionExpression="market = :market",
            ExpressionAttributeValues={":market": {"S": market}},
            ScanIndexForward=False,
            Limit=1,
        )
        items = response.get("Items", [])
        snapshot = MarketSnapshot.model_validate(decode_item(items[0])) if items else None
        self._cache[market] = (now, snapshot)
        return snapshot
