"""Behaviour aggregates of a lead and the model inputs they give (the spec's behaviour group)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiqleads.models import Action

# Interactions that count towards a behaviour feature; contact sets the first-contact time instead.
ACTION_COUNTERS: dict[Action, str] = {
    Action.VIEW: "views",
    Action.CLICK: "clicks",
    Action.INQUIRY: "inquiries",
    Action.MESSAGE: "messages",
    Action.SCHEDULE: "schedules",
}
COUNTERS = ("views", "clicks", "inquiries", "messages", "schedules", "sessions", "interactions")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class BehaviourTotals:
    views: int = 0
    clicks: int = 0
    inquiries: int = 0
    messages: int = 0
    schedules: int = 0
    sessions: int = 0
    interactions: int = 0
    last_activity_at: datetime | None = None
    first_contact_at: datetime | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> BehaviourTotals:
        return cls(
            **{name: int(item.get(name, 0)) for name in COUNTERS},
            last_activity_at=parse_time(item.get("last_activity_at")),
            first_contact_at=parse_time(item.get("first_contact_at")),
        )

    def as_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {name: getattr(self, name) for name in COUNTERS}
        for name in ("last_activity_at", "first_contact_at"):
            value = getattr(self, name)
            if value is not None:
                item[name] = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return item

    def signals(self, lead_created_at: datetime | None, now: datetime | None = None) -> dict[str, float]:
        """The spec's behaviour inputs; a time that cannot be known (no contact yet) is left missing."""
        now = now or datetime.now(UTC)
        values: dict[str, float] = {name: float(getattr(self, name)) for name in COUNTERS if name != "interactions"}
        if self.first_contact_at is not None and lead_created_at is not None:
            values["minutes_to_first_contact"] = max(
                0.0, (self.first_contact_at - lead_created_at).total_seconds() / 60
            )
        if self.last_activity_at is not None:
            values["hours_since_last_activity"] = max(0.0, (now - self.last_activity_at).total_seconds() / 3600)
        return values
