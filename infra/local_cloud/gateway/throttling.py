"""Usage-plan throttling: a token bucket per API key, refilled at the plan's rate, `burst` tokens deep."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class UsagePlan:
    name: str  # logical id
    tier: str | None
    requests_per_minute: float  # inf: no throttle
    burst: int
    id: str = ""  # its id in moto's API Gateway (the logical id where it exists only in the template)


class TokenBuckets:
    """One token bucket per API key: `burst` tokens, refilled at `requests_per_minute / 60` per second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str, plan: UsagePlan) -> float:
        """0 if a request may pass now (and count it), else the seconds until one could."""
        rate = plan.requests_per_minute / 60.0
        capacity = float(max(1, plan.burst))
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate if rate > 0 else math.inf

    def headers(self, key: str, plan: UsagePlan) -> dict[str, str]:
        """X-RateLimit-Limit (requests per minute), -Remaining (requests that would pass now) and -Reset
        (seconds until the bucket is full again), after the last `take`."""
        rate = plan.requests_per_minute / 60.0
        capacity = float(max(1, plan.burst))
        with self._lock:
            tokens, at = self._buckets.get(key, (capacity, self._clock()))
            tokens = min(capacity, tokens + (self._clock() - at) * rate)
        reset = math.ceil((capacity - tokens) / rate) if rate > 0 and tokens < capacity else 0
        return {
            "X-RateLimit-Limit": str(round(plan.requests_per_minute)),  # 16.67/s: 1000/min
            "X-RateLimit-Remaining": str(int(tokens)),
            "X-RateLimit-Reset": str(reset),
        }


def retry_after(wait: float) -> str:
    """Whole seconds until a request would pass (a plan with no rate: a minute)."""
    return str(max(1, math.ceil(wait))) if math.isfinite(wait) else "60"
