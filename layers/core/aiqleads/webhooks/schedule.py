"""When to try again: the configured schedule with jitter, stretched (never shortened) by a Retry-After."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


class RetryPolicy:
    def __init__(self, schedule: Sequence[float], jitter: float = 0.2, rng: Callable[[], float] = random.random):
        self.schedule = tuple(float(delay) for delay in schedule)
        self.jitter = jitter
        self.rng = rng

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    def delay_after(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait after failed attempt `attempt` (1-based), or None when it was the last one."""
        if attempt >= self.max_attempts:
            return None
        base = self.schedule[attempt - 1]
        delay = base * (1.0 + self.jitter * (2.0 * self.rng() - 1.0))
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        return max(0.0, delay)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from `now`: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
