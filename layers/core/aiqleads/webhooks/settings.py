"""Webhook delivery policy: retries, timeouts, when to give up on an endpoint.

The notify and api functions read its tunable parts from their environment (aiqleads/settings.py names which):

WEBHOOK_RETRY_SCHEDULE   delays between attempts, e.g. "5s,5m,30m,2h,5h,10h" (the default: 7 attempts, ~18 h)
WEBHOOK_RETRY_JITTER     +/- fraction applied to each delay (default 0.2)
WEBHOOK_TIMEOUT          one attempt's time limit (default 15s)
WEBHOOK_DISABLE_AFTER    an endpoint failing without a success for this long is disabled (default 5d)
WEBHOOK_ROTATION_GRACE   how long the previous secret keeps signing after a rotation (default 24h)
WEBHOOK_ALLOW_LOOPBACK   "true" only in the local cloud: receivers on 127.0.0.1/::1, over http too
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

DEFAULT_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0)
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """'5s', '5m', '2h', '1d' or plain seconds ('0.5') -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 5s, 5m, 2h, 1d or seconds)")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def parse_schedule(text: str) -> tuple[float, ...]:
    delays = tuple(parse_duration(part) for part in text.split(",") if part.strip())
    if not delays:
        raise ValueError("the retry schedule needs at least one delay")
    return delays


def _seconds(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


def _delays(value: Any) -> Any:
    return parse_schedule(value) if isinstance(value, str) else value


# The policy's constraints, shared with the settings models that read them from the environment (as text).
Seconds = Annotated[float, BeforeValidator(_seconds)]
Schedule = Annotated[tuple[float, ...], BeforeValidator(_delays), Field(min_length=1)]
Jitter = Annotated[float, Field(ge=0, lt=1)]
Timeout = Annotated[Seconds, Field(gt=0, le=60)]
PositiveSeconds = Annotated[Seconds, Field(gt=0)]
NonNegativeSeconds = Annotated[Seconds, Field(ge=0)]


class WebhookSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    retry_schedule: Schedule = DEFAULT_SCHEDULE
    retry_jitter: Jitter = 0.2
    timeout_seconds: Timeout = 15.0
    disable_after_seconds: PositiveSeconds = 5 * 86400.0
    rotation_grace_seconds: NonNegativeSeconds = 24 * 3600.0
    allow_loopback: bool = False
    response_cap_bytes: int = 4096
    max_endpoints_per_tenant: int = 20
    # Named in the dead-letter alert's redrive command; the notify function's settings fill them in.
    notify_queue_url: str = ""
    notify_dead_letter_queue_url: str = ""

    @property
    def max_attempts(self) -> int:
        return len(self.retry_schedule) + 1

    @classmethod
    def overriding(cls, **values: Any) -> WebhookSettings:
        """The defaults, with the values that are not None (the variables a function's environment set)."""
        return cls.model_validate({name: value for name, value in values.items() if value is not None})
