"""Each API key's GraphQL cost budget: a leaky bucket, as Shopify's GraphQL Admin API throttles.

A key's bucket holds at most `maximum_available` points and refills at `restore_rate` points a second; a query is
charged its requested cost (limits.py) before it runs, and refused while the bucket holds less than that. The sizes
are the tier's (template.yaml Mappings.TierQueryCost, passed to the API as GRAPHQL_COST_BUDGETS). The bucket is
kept in DynamoDB (storage/query_budgets.py), so every Lambda instance charges the same one; a charge is a compare-
and-set on the bucket's last update, retried when another instance charged in between.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, Field, PositiveFloat, PositiveInt

CAS_ATTEMPTS = 5  # concurrent charges of one key, each retried against the bucket another one wrote


class CostBudget(BaseModel):
    """One tier's bucket."""

    maximum_available: PositiveInt = Field(alias="maximumAvailable")
    restore_rate: PositiveFloat = Field(alias="restoreRate")  # points a second


@dataclass(frozen=True, slots=True)
class Bucket:
    available: float
    at: float  # epoch seconds of the last charge


class BucketStore(Protocol):
    def get(self, key: str) -> Bucket | None: ...

    def replace(self, key: str, bucket: Bucket, expected: Bucket | None, expires_at: int) -> bool:
        """Write `bucket` if the stored one is still `expected` (None: none stored); False when it changed."""
        ...


@dataclass(frozen=True, slots=True)
class Charge:
    allowed: bool
    requested: int
    maximum_available: int
    currently_available: int
    restore_rate: float
    retry_after: int = 0  # whole seconds until the bucket holds the requested cost (when refused)

    def extension(self) -> dict[str, object]:
        """`extensions.cost` of the response, in Shopify's shape."""
        return {
            "requestedQueryCost": self.requested,
            "throttleStatus": {
                "maximumAvailable": self.maximum_available,
                "currentlyAvailable": self.currently_available,
                "restoreRate": self.restore_rate,
            },
        }


class QueryBudgets:
    def __init__(self, store: BucketStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def charge(self, key: str, budget: CostBudget, cost: int) -> Charge:
        """Take `cost` points from the key's bucket, or refuse (and take nothing) when it holds fewer."""
        for _ in range(CAS_ATTEMPTS):
            stored = self.store.get(key)
            now = self.clock()
            available = self._available(stored, budget, now)
            if available < cost:
                wait = math.ceil((cost - available) / budget.restore_rate)
                return self._charge(False, cost, budget, available, retry_after=max(1, wait))
            left = available - cost
            if self.store.replace(key, Bucket(left, now), stored, self._expiry(budget, left, now)):
                return self._charge(True, cost, budget, left)
        # Every attempt lost to another instance's charge: as busy as throttled, say so (retry in a second).
        return self._charge(False, cost, budget, 0, retry_after=1)

    def status(self, key: str, budget: CostBudget, cost: int) -> Charge:
        """What the bucket holds now, charging nothing (a query refused before it could be charged)."""
        available = self._available(self.store.get(key), budget, self.clock())
        return self._charge(True, cost, budget, available)

    @staticmethod
    def _available(stored: Bucket | None, budget: CostBudget, now: float) -> float:
        if stored is None:
            return float(budget.maximum_available)
        restored = stored.available + max(0.0, now - stored.at) * budget.restore_rate
        return min(float(budget.maximum_available), restored)

    @staticmethod
    def _expiry(budget: CostBudget, left: float, now: float) -> int:
        # Once full again the bucket is the same as none stored: DynamoDB's TTL may drop it then.
        return math.ceil(now + (budget.maximum_available - left) / budget.restore_rate) + 60

    @staticmethod
    def _charge(allowed: bool, cost: int, budget: CostBudget, available: float, retry_after: int = 0) -> Charge:
        return Charge(
            allowed=allowed,
            requested=cost,
            maximum_available=budget.maximum_available,
            currently_available=math.floor(available),
            restore_rate=budget.restore_rate,
            retry_after=retry_after,
        )
