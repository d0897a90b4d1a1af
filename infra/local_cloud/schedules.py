"""EventBridge schedules (a function's `Schedule` events), locally: one timer thread per schedule that invokes the
function with the event EventBridge sends, every `rate(...)` period, the first one period after start (as a new
rule does). `LocalCloud.fire_schedule` runs one at once, which is what an operator or a test wants from a schedule
of days. Only `rate(N unit)` is understood; a `cron(...)` schedule is reported in the notes and not run."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """The period of a `rate(...)` expression in seconds; None for anything else (cron)."""
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def scheduled_event(rule_arn: str, region: str, account_id: str) -> dict[str, Any]:
    """The event EventBridge delivers for a schedule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


@dataclass
class ScheduleTimer:
    function_id: str
    name: str
    period_seconds: float
    fire: Callable[[], Any]

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{self.function_id}-{self.name}", daemon=True)

    def start(self) -> ScheduleTimer:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.period_seconds):
            try:
                self.fire()
            except Exception as exc:  # EventBridge retries and then drops; the local cloud says so and goes on
                print(f"local cloud: schedule {self.function_id}.{self.name} failed: {exc}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
