"""Behaviour aggregates of a lead and the model inputs they give (the spec's behaviour group).

Engagement fades: besides its running totals, a lead's aggregates count each kind of interaction per UTC day,
and its behaviour inputs are those counts decayed to the moment of scoring with the model's half-life (an
interaction counts 1 on its day, 1/2 one half-life later, 1/4 after two). Day counts are plain ADDs in DynamoDB,
so the decay needs no read before a write and any half-life can be applied to them later; a day's interactions
are aged from its noon, at most 12 hours off. Totals written before the day counts existed decay from the lead's
last activity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
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
DAY_PREFIX = "d#"  # attribute d#<counter>#<YYYYMMDD>: that counter's interactions on that UTC day
MINUTES_TO_FIRST_CONTACT = "minutes_to_first_contact"
HOURS_SINCE_LAST_ACTIVITY = "hours_since_last_activity"


def day_of(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d")


def day_attribute(counter: str, at: datetime) -> str:
    return f"{DAY_PREFIX}{counter}#{day_of(at)}"


def _noon(day: str) -> datetime:
    return datetime.strptime(day, "%Y%m%d").replace(hour=12, tzinfo=UTC)


def faded(count: float, at: datetime, now: datetime, half_life_days: float) -> float:
    """`count` interactions at `at`, as they count at `now` (nothing fades before it happened)."""
    age_days = max(0.0, (now - at).total_seconds() / 86400.0)
    return count * 0.5 ** (age_days / half_life_days)


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
    # counter -> {YYYYMMDD: interactions that day}, for the counters that decay (SIGNAL_COUNTERS)
    days: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> BehaviourTotals:
        days: dict[str, dict[str, int]] = {}
        for name, value in item.items():
            if name.startswith(DAY_PREFIX):
                counter, _, day = name[len(DAY_PREFIX) :].partition("#")
                days.setdefault(counter, {})[day] = int(value)
        return cls(
            **{name: int(item.get(name, 0)) for name in COUNTERS},
            last_activity_at=parse_time(item.get("last_activity_at")),
            first_contact_at=parse_time(item.get("first_contact_at")),
            days=days,
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
        days = {name: dict(by_day) for name, by_day in self.days.items()}
        day = day_of(at)
        for name in counts.keys() & set(SIGNAL_COUNTERS):
            days.setdefault(name, {})[day] = days.get(name, {}).get(day, 0) + 1
        return replace(self, **counts, last_activity_at=latest, first_contact_at=first_contact, days=days)

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
        for counter, by_day in self.days.items():
            for day, count in by_day.items():
                item[f"{DAY_PREFIX}{counter}#{day}"] = count
        return item

    def recent(self, counter: str, now: datetime, half_life_days: float) -> float:
        """The counter's interactions decayed to `now`; those without a day count decay from the last activity."""
        by_day = self.days.get(counter, {})
        value = sum(faded(count, _noon(day), now, half_life_days) for day, count in sorted(by_day.items()))
        undated = getattr(self, counter) - sum(by_day.values())
        if undated > 0:
            value += faded(undated, self.last_activity_at or now, now, half_life_days)
        return value

    def signals(
        self, lead_created_at: datetime | None, now: datetime | None = None, *, half_life_days: float
    ) -> dict[str, float]:
        """The spec's behaviour inputs: the counters decayed to `now`, the first contact's delay and the time since
        the last activity; a time that cannot be known (no contact yet) is left missing."""
        now = now or datetime.now(UTC)
        values: dict[str, float] = {name: self.recent(name, now, half_life_days) for name in SIGNAL_COUNTERS}
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
