"""API keys as API Gateway checks them when `ApiKeySourceType` is AUTHORIZER: the authorizer's `usageIdentifierKey`
must be an enabled API key in a usage plan of the stage, and that plan, not anything the authorizer says, throttles
the caller. Anything else is the INVALID_API_KEY gateway response (403).

The keys and plans live in moto's API Gateway (the local cloud creates the template's usage plans there, and
`aiqleads keys issue` registers keys in them as it does in AWS). Asking moto on every request would cost more than
the rest of a request, so, as API Gateway caches keys, the answer for a key value is kept for
`DEFAULT_KEY_CACHE_SECONDS`: a key disabled, or registered after being refused, is seen within that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from typing import Any

DEFAULT_KEY_CACHE_SECONDS = 5.0

# A key value -> the id of the usage plan (of those this stage serves) holding it as an enabled API key, or None.
KeyLookup = Callable[[str], str | None]


def nothing_registered(value: str) -> str | None:
    return None


class ApiKeyCache:
    """`plan_of(value)`: the usage plan holding `value` as an enabled API key, looked up at most once per `ttl`."""

    def __init__(
        self,
        lookup: KeyLookup = nothing_registered,
        ttl: float = DEFAULT_KEY_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def plan_of(self, value: str) -> str | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(value)
        if entry is not None and entry[0] > now:
            return entry[1]
        plan = self._lookup(value)  # outside the lock: one slow lookup does not hold up other keys
        if self.ttl > 0:
            with self._lock:
                self._entries[value] = (now + self.ttl, plan)
        return plan

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()


def api_gateway_lookup(apigateway: Any, plan_ids: Collection[str]) -> KeyLookup:
    """A `KeyLookup` over API Gateway's (moto's) keys and usage plans, limited to `plan_ids` (the stage's plans)."""
    serving = frozenset(plan_ids)

    def lookup(value: str) -> str | None:
        for page in apigateway.get_paginator("get_api_keys").paginate(includeValues=True):
            for key in page.get("items", []):
                if key.get("value") != value:
                    continue
                if not key.get("enabled"):
                    return None
                plans = apigateway.get_usage_plans(keyId=key["id"]).get("items", [])
                return next((str(plan["id"]) for plan in plans if plan["id"] in serving), None)
        return None

    return lookup
