"""Population stability index (PSI) per feature and of the score, against the training baseline.

PSI = sum over bins of (live - expected) * ln(live / expected), over the bins and the missing values as one more
bin, so a feature that starts arriving empty drifts as surely as one whose values move. An empty bin on either side
takes a floor share (`FLOOR`), as Evidently and most implementations do, so one empty bin gives a large but finite
figure. Bands, by the usual convention: below 0.1 stable, 0.1 to 0.25 watch, 0.25 and over act.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from aiqleads.monitoring.baseline import Bins

WATCH = 0.1
ACT = 0.25
FLOOR = 1e-4
Band = Literal["stable", "watch", "act"]


def band(psi: float) -> Band:
    return "act" if psi >= ACT else "watch" if psi >= WATCH else "stable"


def psi(expected: list[float], live: list[float]) -> float:
    e = np.maximum(np.asarray(expected, dtype=np.float64), FLOOR)
    a = np.maximum(np.asarray(live, dtype=np.float64), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


# The days a calendar part takes to run through its values: a window shorter than that cannot hold the training
# data's mix (a week of leads is all one or two months), so such a feature's drift is reported, never alerted on.
CYCLE_DAYS = {"hour": 1, "weekday": 7, "month": 366}
# A market signal is its market's monthly snapshot, one value per market a month: a window shorter than a month
# holds a point mass per market where training held a year of them, which PSI reads as drift whatever the leads.
SNAPSHOT_DAYS = 28


class Drift(BaseModel):
    """One feature's (or the score's) drift in a window."""

    name: str
    psi: float
    band: Band
    rows: int
    missing_share: float
    training_missing_share: float
    alerting: bool = Field(True, description="false: shown, but its band never alerts (see note)")
    note: str | None = None


def not_alerting(part: str | None, source: str, window_days: int) -> str | None:
    """Why a feature's drift cannot alert over this window (a calendar part, a monthly market signal), or None."""
    cycle = CYCLE_DAYS.get(part or "")
    if cycle is not None and cycle > window_days:
        return f"a {window_days}-day window cannot hold a year's {part}s: reported, not alerted on"
    if source == "market" and window_days < SNAPSHOT_DAYS:
        return (
            f"one monthly snapshot per market in a {window_days}-day window against a year of them in training: "
            "reported, not alerted on (price_vs_market watches leads against their market)"
        )
    return None


def drift(name: str, bins: Bins, values: np.ndarray) -> Drift:
    """The drift of live `values` (NaN: missing)."""
    shares, missing = bins.shares_of(values)
    return drift_of_shares(name, bins, shares, missing, int(np.asarray(values).size))


def drift_of_counts(name: str, bins: Bins, counts: np.ndarray, missing: int) -> Drift:
    """The drift of live values already counted into `bins` (`counts` per bin, `missing` apart)."""
    present = int(np.sum(counts[: len(bins.shares)]))
    rows = present + int(missing)
    shares = [float(c) / max(present, 1) for c in counts[: len(bins.shares)]]
    return drift_of_shares(name, bins, shares, missing / rows if rows else 0.0, rows)


def drift_of_shares(name: str, bins: Bins, shares: list[float], missing: float, rows: int) -> Drift:
    present = 1.0 - missing
    expected_present = 1.0 - bins.missing
    expected = [s * expected_present for s in bins.shares] + [bins.missing]
    live = [s * present for s in shares] + [missing]
    value = psi(expected, live)
    value = round(value, 6) if math.isfinite(value) else 99.0
    return Drift(
        name=name,
        psi=value,
        band=band(value),
        rows=rows,
        missing_share=round(missing, 6),
        training_missing_share=bins.missing,
    )
