"""Webhook delivery settings, read from the environment when a batch or request starts (never at import).

WEBHOOK_RETRY_SCHEDULE   delays between attempts, e.g. "5s,5m,30m,2h,5h,10h" (the default: 7 attempts, ~18 h)
WEBHOOK_RETRY_JITTER     +/- fraction applied to each delay (default 0.2)
WEBHOOK_TIMEOUT          one attempt's time limit (default 15s)
WEBHOOK_DISABLE_AFTER    an endpoint failing without a success for this long is disabled (default 5d)
WEBHOOK_ROTATION_GRACE   how long the previous secret keeps signing after a rotation (default 24h)
WEBHOOK_ALLOW_LOOPBACK   "true" only in the local cloud: receivers on 127.0.0.1/::1, over http too
NOTIFY_DEAD_LETTER_QUEUE_URL  where deliveries go after their last attempt (redrivable)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

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


class WebhookSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    retry_schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    retry_jitter: float = Field(default=0.2, ge=0, lt=1)
    timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    disable_after_seconds: float = Field(default=5 * 86400.0, gt=0)
    rotation_grace_seconds: float = Field(default=24 * 3600.0, ge=0)
    allow_loopback: bool = False
    response_cap_bytes: int = 4096
    max_endpoints_per_tenant: int = 20
    buyers_table: str = ""
    notify_queue_url: str = ""
    notify_dead_letter_queue_url: str = ""
    alerts_topic_arn: str = ""

    @property
    def max_attempts(self) -> int:
        return len(self.retry_schedule) + 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookSettings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get("WEBHOOK_RETRY_SCHEDULE"):
            values["retry_schedule"] = parse_schedule(env["WEBHOOK_RETRY_SCHEDULE"])
        if env.get("WEBHOOK_RETRY_JITTER"):
            values["retry_jitter"] = float(env["WEBHOOK_RETRY_JITTER"])
        for name, field in (
            ("WEBHOOK_TIMEOUT", "timeout_seconds"),
            ("WEBHOOK_DISABLE_AFTER", "disable_after_seconds"),
            ("WEBHOOK_ROTATION_GRACE", "rotation_grace_seconds"),
        ):
            if env.get(name):
                values[field] = parse_duration(env[name])
        values["allow_loopback"] = env.get("WEBHOOK_ALLOW_LOOPBACK", "").strip().lower() == "true"
        for field in ("buyers_table", "notify_queue_url", "notify_dead_letter_queue_url", "alerts_topic_arn"):
            if env.get(field.upper()):
                values[field] = env[field.upper()]
        return cls.model_validate(values)
