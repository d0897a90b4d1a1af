"""Behaviour aggregates of a lead and the model inputs they give (the spec's behaviour group)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
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
# A session is a run of activity with gaps under this: the first interaction after a longer gap starts a new one.
SESSION_GAP = timedelta(minutes=30)
MINUTES_TO_FIRST_CONTACT = "minutes_to_first_contact"
HOURS_SINCE_LAST_ACTIVITY = "hours_since_last_activity"


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

    def apply(self, action: Action, at: datetime) -> BehaviourTotals:
        """These totals after one more interaction: the rules AggregateRepository.record applies inside DynamoDB
        (an ADD and a condition per case), as a pure function, so a training set can replay a lead's logged
        interactions up to any moment and get the totals the events function would have held then."""
        counter = ACTION_COUNTERS.get(action)
        counts = {"interactions": self.interactions + 1}
        if counter:
            counts[counter] = getattr(self, counter) + 1
        last = self.last_activity_at
        if last is None or last < at - SESSION_GAP:
            counts["sessions"] = self.sessions + 1
        first_contact = self.first_contact_at
        if action is Action.CONTACT and first_contact is None:
            first_contact = at
        # An older interaction arriving late is counted but does not move the latest activity back.
        latest = at if last is None or last < at else last
        return replace(self, **counts, last_activity_at=latest, first_contact_at=first_contact)

    @classmethod
    def replay(cls, interactions: Iterable[tuple[Action, datetime]]) -> BehaviourTotals | None:
        """The totals of these interactions applied in time order; None when there are none (an untracked lead,
        whose behaviour inputs stay missing)."""
        totals = None
        for action, at in sorted(interactions, key=lambda pair: pair[1]):
            totals = (totals or cls()).apply(action, at)
        return totals

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
        values: dict[str, float] = {name: float(getattr(self, name)) for name in SIGNAL_COUNTERS}
        if self.first_contact_at is not None and lead_created_at is not None:
            values[MINUTES_TO_FIRST_CONTACT] = max(0.0, (self.first_contact_at - lead_created_at).total_seconds() / 60)
        if self.last_activity_at is not None:
            values[HOURS_SINCE_LAST_ACTIVITY] = max(0.0, (now - self.last_activity_at).total_seconds() / 3600)
        return values


COUNTERS: tuple[str, ...] = tuple(f.name for f in fields(BehaviourTotals) if f.type == "int")
# Every interaction counts once more in `interactions`, which says nothing the other counters do not.
SIGNAL_COUNTERS: tuple[str, ...] = tuple(name for name in COUNTERS if name != "interactions")
BEHAVIOUR_COLUMNS: tuple[str, ...] = (*SIGNAL_COUNTERS, MINUTES_TO_FIRST_CONTACT, HOURS_SINCE_LAST_ACTIVITY)
"""The spec's behaviour inputs, in file order: what `BehaviourTotals.signals` gives."""
