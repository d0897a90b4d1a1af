"""A lead's value of a feature in a buyer's words: "Price $349,900", "Last active 3 hours ago", "Timeline: asap".

Each feature's `reason` template (default "<label>: {value}") gets the lead's own value, formatted by the
feature's `format`. A fade feature shows the input it fades (the hours since the last activity, not 0.89).
"""

from __future__ import annotations

from collections.abc import Callable

from aiqleads.features.spec import VALUE_PLACEHOLDER, Feature

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _plural(count: float, unit: str) -> str:
    whole = round(count)
    return f"{whole} {unit}" if whole == 1 else f"{whole} {unit}s"


def _duration_hours(hours: float) -> str:
    if hours < 1:
        return "under an hour"
    if hours < 48:
        return _plural(hours, "hour")
    return _plural(hours / 24, "day")


def _duration_minutes(minutes: float) -> str:
    if minutes < 1:
        return "under a minute"
    if minutes < 120:
        return _plural(minutes, "minute")
    return _duration_hours(minutes / 60)


def _percent(value: float) -> str:
    shown = value * 100
    return f"{shown:.0f}%" if abs(shown - round(shown)) < 0.05 else f"{shown:.1f}%"


def _count(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def _named(names: tuple[str, ...], first: int) -> Callable[[float], str]:
    def name(value: float) -> str:
        index = int(value) - first
        return names[index] if 0 <= index < len(names) else f"{value:.0f}"

    return name


FORMATS: dict[str, Callable[[float], str]] = {
    "money": lambda v: f"${v:,.0f}",
    "ratio": lambda v: f"{v:.1f}×",
    "percent": _percent,
    "minutes": _duration_minutes,
    "hours": _duration_hours,
    "integer": lambda v: f"{v:.0f}",
    "count": _count,
    "yes_no": lambda v: "yes" if v >= 0.5 else "no",
    "month": _named(MONTHS, 1),
    "weekday": _named(WEEKDAYS, 0),
    "number": lambda v: f"{v:.3g}",
}


def format_value(value: float, fmt: str) -> str:
    return FORMATS.get(fmt, FORMATS["number"])(value)


def _shown(feature: Feature) -> Callable[[float], str]:
    """The lead's value as text: a category's name, a fade's input, else the value in the feature's format."""
    if feature.transform == "category":
        categories = feature.categories or []
        return lambda v: categories[int(v)] if 0 <= int(v) < len(categories) else "other"
    if feature.transform == "fade":
        half, fmt = float(feature.half_at or 1.0), FORMATS.get(feature.format, FORMATS["number"])
        # fade = half / (half + x), so x = half * (1 / fade - 1); a fade of 0 is "nothing recorded"
        return lambda v: fmt(half * (1.0 / v - 1.0)) if v > 0 else "never"
    return FORMATS.get(feature.format, FORMATS["number"])


def phrase_of(feature: Feature) -> Callable[[float], str]:
    """value -> the reason's words for this feature."""
    template = feature.reason or f"{feature.label}: {VALUE_PLACEHOLDER}"
    before, _, after = template.partition(VALUE_PLACEHOLDER)
    shown = _shown(feature)
    return lambda value: f"{before}{shown(value)}{after}"
