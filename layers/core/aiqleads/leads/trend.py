"""A lead's score trend over the last 7 days: improving, steady or declining, with the delta in score points.

The rule: compare the current score with the score in force at the window's start (now - 7 days), that is the
latest score written at or before it; a lead younger than the window is compared with its first score. It is
*improving* when the score rose by at least `THRESHOLD` points, *declining* when it fell by at least that, else
*steady*.

Where the points come from: every writer of a score item also keeps on it `recent_scores`, the (time, score)
points the rule needs (those inside the window plus the last one before it, at most `MAX_POINTS`), merged from
the item it replaces (`extend`). So the trend of any score item is computed from that item alone, at the reader's
time: `GET /v1/recommendations` (candidates from the ScoreIndex) and `GET /v1/leads/{id}` show it without reading
the history, and a trend does not go stale between writes (a rise 8 days ago is steady today). The history items
(`storage.leads.history_item`) stay the full record; the points are its summary for the last week.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from aiqleads.models import ScoreTrend, TrendDirection

WINDOW_DAYS = 7
WINDOW = timedelta(days=WINDOW_DAYS)
THRESHOLD = 5  # score points (0-100)
MAX_POINTS = 32  # kept on a score item: the baseline plus the newest 31
SECONDS = "%Y-%m-%dT%H:%M:%SZ"

Point = tuple[str, int]  # (ISO time to the second, UTC; score)


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime(SECONDS)


def _parse(text: str) -> datetime:
    return datetime.strptime(text, SECONDS).replace(tzinfo=UTC)


def extend(points: Sequence[Point], at: datetime, score: int) -> list[Point]:
    """The points after a score written at `at`: the new one appended (unless the score did not change), then
    pruned to the window ending at `at` plus the last point before it (the baseline the rule compares with)."""
    kept = sorted(points)
    if not kept or kept[-1][1] != score:
        kept.append((stamp(at), score))
    start = stamp(at - WINDOW)
    before = [i for i, (when, _) in enumerate(kept) if when <= start]
    if before:
        kept = kept[before[-1] :]
    if len(kept) > MAX_POINTS:
        kept = [kept[0], *kept[-(MAX_POINTS - 1) :]]
    return kept


def trend(points: Sequence[Point], now: datetime, current: int | None = None) -> ScoreTrend | None:
    """The trend at `now` (None without points); `current` is the score now (default: the latest point's)."""
    if not points:
        return None
    ordered = sorted(points)
    start = stamp(now - WINDOW)
    before = [point for point in ordered if point[0] <= start]
    baseline = before[-1] if before else ordered[0]
    delta = (ordered[-1][1] if current is None else current) - baseline[1]
    if delta >= THRESHOLD:
        direction = TrendDirection.IMPROVING
    elif delta <= -THRESHOLD:
        direction = TrendDirection.DECLINING
    else:
        direction = TrendDirection.STEADY
    return ScoreTrend(direction=direction, delta=delta, since=_parse(baseline[0]), window_days=WINDOW_DAYS)


def dumps(points: Sequence[Point]) -> str:
    """The score item's `recent_scores` attribute."""
    return json.dumps([[when, score] for when, score in points], separators=(",", ":"))


def loads(text: str | None) -> list[Point]:
    """`recent_scores` read back ([] for an item written before there were any)."""
    if not text:
        return []
    return [(str(when), int(score)) for when, score in json.loads(text)]


def insight(found: ScoreTrend | None) -> str | None:
    """The line a recommendation's insights show, e.g. "Score improving: +12 in 7 days"."""
    if found is None:
        return None
    if found.direction is TrendDirection.STEADY:
        moved = f" ({found.delta:+d})" if found.delta else ""
        return f"Score steady over {found.window_days} days{moved}"
    return f"Score {found.direction.value}: {found.delta:+d} in {found.window_days} days"
