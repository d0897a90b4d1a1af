"""Synthetic real-estate leads: a fast, deterministic generator with a documented generative story.

`generate_table(rows, seed)` returns an Arrow table of text cells (every column `string`, null = missing) in the
flat lead layout of `aiqleads.validation.flat`: LEAD_COLUMNS, then (unless `leads_only`) BEHAVIOUR_COLUMNS, MARKET_COLUMNS
and the label `converted` ("1"/"0"). `write_table` writes CSV, JSONL or Parquet; `generate_file` streams chunks
so millions of rows use bounded memory. Everything is vectorised (numpy draws, Arrow compute for the text).

Determinism
-----------
Rows are drawn in fixed blocks of `BLOCK` rows; block `b` uses `np.random.SeedSequence(seed, spawn_key=(b,))`
(the b-th child of `SeedSequence(seed).spawn`). A row's content therefore depends only on (seed, row number,
start, days, invalid_rate), never on the total row count or on how `generate_file` chunks the output, and the same
arguments give the same bytes in every format. Ids are `gen-{seed}-{row:08d}`. `invalid_rate` only decides which
rows are corrupted: the same seed with `invalid_rate=0` gives the same table minus the corruptions. Blocks are
generated and formatted in parallel threads; the output does not depend on the thread count. (Bytes are stable
for given numpy and pyarrow versions; Parquet bytes also depend on how the table is split into row groups.)
`generate_file` uses the default `start` and `days`.

The generative story (the truth a trained model should recover)
----------------------------------------------------------------
Each lead has a hidden *seriousness* ``z = N(0, 1) + 0.5 * quality(source)``.

Source (share, quality in log-odds): zillow 22% +0.10, realtor 15% +0.15, fsbo 8% -0.10, craigslist 10% -0.70,
web-form 15% +0.20, partner 7% +0.60, referral 7% +0.80, facebook-ads 16% -0.50. (The brief's `web_form` and
`facebook_ads` are not valid slugs for `aiqleads.validation.grammar`, so they are spelt with hyphens.) The source also sets
the share of sellers (fsbo 85%, others 30-45%) and of disposable email addresses (craigslist and facebook-ads
highest).

Market (share, base median price): launch markets las-vegas 25% $420k, dallas-fort-worth 26% $380k, austin 19%
$550k, phoenix 22% $450k carry market signals; boise, tucson, reno and el-paso (8% together) do not, so their
market_* cells are empty. Signals are a closed-form function of (market, calendar month), the same for every seed:
median price = base * annual growth (+4.5%, +2%, -3%, +3%) * seasonality (+-3%, peak in early summer) * a +-1%
monthly wobble; price trend = median / median three months earlier - 1; inventory peaks in summer; days on market
and inquiries per listing are best in spring. Lat/lon are normal around the market's centre (5% missing).

Created_at is uniform over `days` days from `start`, time of day peaking around 17:30 UTC (2% missing); it is
written as ``YYYY-MM-DDTHH:MM:SSZ``.

Property: single_family 56%, condo 14%, townhouse 12%, multi_family 7%, land 6%, other 5%. Price is log-normal
(sigma 0.35) around market median(month) * type factor (1.0, 0.62, 0.80, 1.45, 0.30, 0.85); sellers ask 5% more
on average. Sqft follows the type and the price; beds follow sqft, baths follow beds (halves allowed); land has a
lot size in sqft and no beds/baths. Intent buy/sell (by source). Timeline is driven by seriousness: ``0.55 z +
noise`` cut into asap / 0-3 / 3-6 / 6-12 / 12+ months (14/30/26/18/12%), with 15% "unknown".
Description: an intent-specific template naming the property type and city, an optional detail sentence and,
with probability sigmoid(-1.7 + 0.6 z), one or two motivation sentences, each holding exactly one of the words
motivated, relocating, cash, urgent, divorce, inherited, pre-approved.

Contact: name from small first/last lists; email (first/last name styles, common domains, disposable domains such
as mailinator.com with probability rate(source) * exp(-0.6 z)); NANP phone with the market's area codes in mixed
formats ("(702) 555-0100", "702.555.0100", "+1 702 555 0100", "7025550100", "702-555-0100"). 8% have no phone,
6% no email, never both.

Behaviour (empty for 3% of leads that were never tracked): sessions = 1 + Poisson(exp(0.6 + 0.45 z)); views =
sessions + Poisson(sessions * exp(0.9 + 0.2 z)); clicks ~ Binomial(views, sigmoid(-1 + 0.3 z)); inquiries ~
Poisson(exp(-0.9 + 0.6 z)); messages ~ Poisson(exp(-1.1 + 0.6 z)); schedules ~ Poisson(exp(-2.4 + 0.8 z)). The
lead is contacted with probability sigmoid(1.2 + 0.8 z); minutes_to_first_contact = exp(3 - 0.5 z + N(0, 1.1))
(empty when never contacted); hours_since_last_activity = exp(2.5 - 0.6 z + N(0, 1)).

Conversion: ``converted ~ Bernoulli(sigmoid(logit))`` with ``logit`` the sum of (see `_conversion_logit`)

* ``-2.4`` (intercept) ``+ 0.8 z`` (seriousness, only partly visible through the behaviour and timeline)
* ``+ quality(source)`` and a market effect (las-vegas +0.10, phoenix +0.05, dfw 0, austin -0.15, others -0.20)
* timeline: asap +0.7, 0-3 months +0.4, 3-6 0, 6-12 -0.35, 12+ -0.7, unknown -0.25; intent sell +0.15
* responsiveness: ``-0.35 log1p(minutes_to_first_contact / 10)``, never contacted -1.2
* engagement: ``+0.35 log1p(inquiries + messages + 2 schedules)``, recency ``-0.15 log1p(hours / 24)``
* sellers asking above the market: ``-1.5 max(0, log(price / (market median * type factor)))``
* contact: disposable email -1.0, no phone -0.35, no email -0.10
* motivation: +0.45 per motivation sentence (also when the description is missing: it only reveals motivation)
* season: ``+0.3 cos(2 pi (day_of_year - 105) / 365.25)`` (mid-April best), market heat
  ``+1.0 (inquiries_per_listing / base - 1)``
* noise ``N(0, 1)``

This gives a conversion rate of about 14%; LightGBM on the flat columns (plus price/market and price/sqft ratios,
disposable-email and motivation-word flags, created_at month) reaches a held-out ROC AUC of about 0.81: seriousness
is only partly observable, the noise term is unobservable, and the label is a coin flip.

Invalid values: a share `invalid_rate` of rows gets exactly one corrupted field, one of `CORRUPTIONS` (email
"not-an-email", phone "12345", price "-5" or "abc", property_type "castle", intent "rent", created_at "yesterday",
lat "123.4", market "Las Vegas!!", beds "2.5"); `aiqleads.validation.flat.lead_from_flat` rejects exactly those rows. Missing
values on optional fields (2-8% each, mostly 5%; see `_MISSING`) are valid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from aiqleads.features.market import INQUIRIES_PER_LISTING, snapshot_from_signals
from aiqleads.models import LIMITS, Intent, MarketSnapshot, PropertyType, Timeline
from aiqleads.validation.flat import BEHAVIOUR_COLUMNS, LABEL_COLUMN, LEAD_COLUMNS, MARKET_COLUMNS

__all__ = [
    "BLOCK",
    "CORRUPTIONS",
    "FORMATS",
    "columns",
    "generate_file",
    "generate_table",
    "write_table",
]

BLOCK = 1 << 14
"""Rows drawn from one random generator; fixed so that a row's content never depends on chunking."""
FORMATS = (".csv", ".jsonl", ".parquet")
DEFAULT_START = datetime(2025, 1, 1, tzinfo=UTC)
DEFAULT_DAYS = 700

Array = np.ndarray


@dataclass(frozen=True, slots=True)
class _Source:
    slug: str
    share: float
    quality: float  # log-odds of conversion, also shifts seriousness
    sell_share: float
    disposable_rate: float


_SOURCES = (
    _Source("zillow", 0.22, 0.10, 0.30, 0.02),
    _Source("realtor", 0.15, 0.15, 0.35, 0.02),
    _Source("fsbo", 0.08, -0.10, 0.85, 0.03),
    _Source("craigslist", 0.10, -0.70, 0.40, 0.12),
    _Source("web-form", 0.15, 0.20, 0.45, 0.03),
    _Source("partner", 0.07, 0.60, 0.40, 0.01),
    _Source("referral", 0.07, 0.80, 0.45, 0.01),
    _Source("facebook-ads", 0.16, -0.50, 0.30, 0.08),
)


@dataclass(frozen=True, slots=True)
class _Market:
    slug: str
    city: str
    share: float
    lat: float
    lon: float
    spread: float  # degrees
    median_price: float
    area_codes: tuple[str, ...]
    effect: float  # log-odds of conversion
    signals: bool
    inventory: float = 0.0
    days_on_market: float = 0.0
    inquiries_per_listing: float = 0.0
    growth: float = 0.0  # annual median price growth


_MARKETS = (
    _Market("las-vegas", "Las Vegas", 0.25, 36.1699, -115.1398, 0.12, 420_000, ("702", "725"), 0.10, True, 6_500, 38, 4.2, 0.045),
    _Market("dallas-fort-worth", "Dallas-Fort Worth", 0.26, 32.7767, -96.7970, 0.25, 380_000, ("214", "469", "972", "817", "682"), 0.0, True, 21_000, 45, 3.4, 0.02),
    _Market("austin", "Austin", 0.19, 30.2672, -97.7431, 0.12, 550_000, ("512", "737"), -0.15, True, 9_000, 62, 2.6, -0.03),
    _Market("phoenix", "Phoenix", 0.22, 33.4484, -112.0740, 0.18, 450_000, ("602", "480", "623"), 0.05, True, 14_000, 48, 3.6, 0.03),
    _Market("boise", "Boise", 0.02, 43.6150, -116.2023, 0.08, 470_000, ("208",), -0.20, False, growth=0.02),
    _Market("tucson", "Tucson", 0.025, 32.2226, -110.9747, 0.08, 340_000, ("520",), -0.20, False, growth=0.03),
    _Market("reno", "Reno", 0.015, 39.5296, -119.8138, 0.06, 560_000, ("775",), -0.20, False, growth=0.02),
    _Market("el-paso", "El Paso", 0.02, 31.7619, -106.4850, 0.08, 250_000, ("915",), -0.20, False, growth=0.03),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Kind:
    type: PropertyType
    share: float
    price_factor: float
    sqft: float  # typical living area; 0 for land (lot size instead)
    label: str  # as written in descriptions


_KINDS = (
    _Kind(PropertyType.SINGLE_FAMILY, 0.56, 1.00, 2000, "single-family home"),
    _Kind(PropertyType.CONDO, 0.14, 0.62, 1100, "condo"),
    _Kind(PropertyType.TOWNHOUSE, 0.12, 0.80, 1500, "townhouse"),
    _Kind(PropertyType.MULTI_FAMILY, 0.07, 1.45, 3200, "multi-family property"),
    _Kind(PropertyType.LAND, 0.06, 0.30, 0, "lot"),
    _Kind(PropertyType.OTHER, 0.05, 0.85, 1600, "property"),
)
_LAND = [k.type for k in _KINDS].index(PropertyType.LAND)

# Timeline in enum order; the known ones are cut from the urgency score at these N(0, 1) quantiles.
_TIMELINES = tuple(Timeline)
_TIMELINE_EFFECT = {
    Timeline.ASAP: 0.7,
    Timeline.WITHIN_3_MONTHS: 0.4,
    Timeline.WITHIN_6_MONTHS: 0.0,
    Timeline.WITHIN_12_MONTHS: -0.35,
    Timeline.LATER: -0.7,
    Timeline.UNKNOWN: -0.25,
}
_URGENCY_CUTS = np.array([-1.175, -0.524, 0.151, 1.080])  # 12% later, 18%, 26%, 30%, 14% asap
_KNOWN_BY_URGENCY = np.array(
    [_TIMELINES.index(t) for t in (Timeline.LATER, Timeline.WITHIN_12_MONTHS, Timeline.WITHIN_6_MONTHS,
                                  Timeline.WITHIN_3_MONTHS, Timeline.ASAP)]
)  # fmt: skip
_UNKNOWN_TIMELINE = _TIMELINES.index(Timeline.UNKNOWN)
_INTENTS = (Intent.BUY.value, Intent.SELL.value)

_FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Maria",
    "Daniel", "Karen", "Matthew", "Nancy", "Anthony", "Lisa", "Mark", "Sandra", "Jose", "Ashley",
    "Kevin", "Emily", "Brian", "Michelle", "Luis", "Amanda", "Wei", "Priya", "Ahmed", "Sofia",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen", "Hill", "Patel", "Kim",
)  # fmt: skip
_EMAIL_DOMAINS = (
    ("gmail.com", 0.40), ("yahoo.com", 0.14), ("outlook.com", 0.11), ("hotmail.com", 0.08), ("icloud.com", 0.09),
    ("aol.com", 0.03), ("comcast.net", 0.04), ("att.net", 0.03), ("protonmail.com", 0.03), ("cox.net", 0.05),
)  # fmt: skip
DISPOSABLE_DOMAINS = ("mailinator.com", "yopmail.com", "guerrillamail.com", "10minutemail.com", "trashmail.com")
# Local-part styles: first.last, firstlast, first_last, flast, first.lastNN, firstYYYY.
_EMAIL_STYLES = (0.35, 0.15, 0.10, 0.15, 0.15, 0.10)
# Phone formats: (702) 555-0100, 702.555.0100, +1 702 555 0100, 7025550100, 702-555-0100.
_PHONE_PARTS = (("(", ") ", "-"), ("", ".", "."), ("+1 ", " ", " "), ("", "", ""), ("", "-", "-"))
_PHONE_FORMATS = (0.30, 0.15, 0.15, 0.20, 0.20)

_TEMPLATES = (  # (before type, between type and city, after city), buy then sell
    (("Looking for a ", " in ", "."), ("Interested in buying a ", " around ", "."), ("We want a ", " near ", " for our family.")),
    (("Selling my ", " in ", "."), ("Thinking about listing our ", " in ", " this year."), ("Would like a valuation of my ", " near ", ".")),
)  # fmt: skip
_DETAILS = (
    "", "", "", " Flexible on price.", " Prefer a quiet street.", " Good schools matter to us.",
    " Needs some updating.", " Recently renovated kitchen.", " Close to the freeway.", " Open to offers.",
)  # fmt: skip
# Each motivation sentence holds exactly one motivation word.
_MOTIVATION = (
    (" Cash buyer.", " Pre-approved with my lender.", " Relocating for work.", " Urgent, need to move soon.",
     " Motivated to buy quickly."),
    (" Motivated seller.", " Relocating for a new job.", " Going through a divorce.",
     " Inherited the house from my parents.", " Urgent sale, must close quickly."),
)  # fmt: skip

CORRUPTIONS: tuple[tuple[str, str], ...] = (
    ("email", "not-an-email"),
    ("phone", "12345"),
    ("price", "-5"),
    ("price", "abc"),
    ("property_type", "castle"),
    ("intent", "rent"),
    ("created_at", "yesterday"),
    ("lat", "123.4"),
    ("market", "Las Vegas!!"),
    ("beds", "2.5"),
)
"""(column, bad value): a corrupted row gets exactly one of these."""

# Missing-value rates of optional fields (valid rows).
_MISSING = {
    "name": 0.05,
    "created_at": 0.02,
    "property_type": 0.04,
    "price": 0.05,
    "beds": 0.05,
    "baths": 0.05,
    "sqft": 0.06,
    "lat_lon": 0.05,
    "timeline": 0.04,
    "description": 0.08,
    "behaviour": 0.03,
}
_CONTACT = (0.86, 0.08, 0.06)  # both, email only, phone only

_EPOCH_MONTH_2025 = (2025 - 1970) * 12
_INTERCEPT = -2.4
_NOISE = 1.0  # sd of the unexplained log-odds
_AREA_SLOTS = 5  # phone area codes per market, cycling through its codes
_FIRST_BIRTH_YEAR, _BIRTH_YEARS = 1955, 51  # emails like maria1987
_SECONDS_PER_DAY = 86_400
# Rounding of each market column (MARKET_COLUMNS order): prices to $100, inventory whole, trend to 0.01%.
_MARKET_DECIMALS = (-2, 0, 1, 4, 2)


def columns(*, leads_only: bool = False) -> tuple[str, ...]:
    """The generated columns, in order."""
    if leads_only:
        return LEAD_COLUMNS
    return (*LEAD_COLUMNS, *BEHAVIOUR_COLUMNS, *MARKET_COLUMNS, LABEL_COLUMN)


def _schema(leads_only: bool) -> pa.Schema:
    return pa.schema([pa.field(name, pa.string()) for name in columns(leads_only=leads_only)])


# --------------------------------------------------------------------------------------------------------------
# Numeric draws


def _pick(rng: np.random.Generator, shares: Sequence[float], n: int) -> Array:
    cumulative = np.cumsum(np.asarray(shares, dtype=np.float64))
    cumulative /= cumulative[-1]
    return np.minimum(np.searchsorted(cumulative, rng.random(n), side="right"), len(cumulative) - 1)


def _sigmoid(x: Array) -> Array:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _market_attr(name: str) -> Array:
    return np.array([getattr(m, name) for m in _MARKETS], dtype=np.float64)


def _civil(days: Array) -> tuple[Array, Array, Array]:
    """Gregorian (year, month 1-12, day 1-31) of days since 1970-01-01 (H. Hinnant's `civil_from_days`)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def _market_median(market: Array, month: Array) -> Array:
    """Median price of `market` in `month` (months since 1970-01)."""
    calendar = month % 12  # 0 = January
    years = (month - _EPOCH_MONTH_2025) / 12.0
    growth = np.exp(_market_attr("growth")[market] * years)
    season = 1.0 + 0.03 * np.cos(2 * np.pi * (calendar - 5) / 12)
    wobble = 1.0 + 0.01 * np.sin(1.3 * month + 2.1 * market)
    return np.asarray(_market_attr("median_price")[market] * growth * season * wobble)


def _market_signals(market: Array, month: Array) -> dict[str, Array]:
    """The market_* columns of `market` in `month` (a function of these two only)."""
    calendar = month % 12
    years = (month - _EPOCH_MONTH_2025) / 12.0
    spring = np.cos(2 * np.pi * (calendar - 3.5) / 12)  # +1 in April/May, -1 in October/November
    summer = np.cos(2 * np.pi * (calendar - 6) / 12)
    wobble = np.sin(0.7 * month + 1.7 * market)
    median = _market_median(market, month)
    inventory = _market_attr("inventory")[market] * (1 + 0.12 * summer + 0.02 * wobble) * np.exp(0.05 * years)
    days_on_market = _market_attr("days_on_market")[market] * (1 - 0.15 * spring + 0.03 * wobble)
    inquiries = _market_attr("inquiries_per_listing")[market] * (1 + 0.2 * spring + 0.04 * wobble)
    trend = median / _market_median(market, month - 3) - 1
    values = (median, inventory, days_on_market, trend, inquiries)
    return {
        name: np.round(column, decimals)
        for name, column, decimals in zip(MARKET_COLUMNS, values, _MARKET_DECIMALS, strict=True)
    }


def _draw_block(seed: int, block: int, start_s: int, days: int) -> dict[str, Array]:
    """All random content of the `BLOCK` rows of block `block`, as numeric arrays.

    The parts are drawn in a fixed order from one generator: reordering them changes every generated file.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))
    n = BLOCK
    d: dict[str, Array] = {}

    source = _pick(rng, [s.share for s in _SOURCES], n)
    quality = np.array([s.quality for s in _SOURCES])[source]
    z = rng.standard_normal(n) + 0.5 * quality  # seriousness
    market = _pick(rng, [m.share for m in _MARKETS], n)
    d["source"], d["market"] = source, market

    calendar = _draw_calendar(rng, n, start_s, days, market, d)
    overpriced = _draw_property(rng, n, source, market, calendar, d)
    _draw_story(rng, n, z, d)
    _draw_contact(rng, n, source, z, d)
    _draw_behaviour(rng, n, z, d)
    heat = _market_heat(market, calendar.signals, d)

    # missing values of optional fields
    missing = rng.random((n, len(_MISSING))) < np.array(list(_MISSING.values()))
    for j, name in enumerate(_MISSING):
        d[f"missing_{name}"] = missing[:, j]

    logit = _conversion_logit(
        z=z,
        quality=quality,
        market=market,
        timeline=d["timeline"],
        sell=d["sell"],
        minutes=d["minutes_to_first_contact"],
        engagement=d["inquiries"] + d["messages"] + 2 * d["schedules"],
        hours=d["hours_since_last_activity"],
        overpriced=overpriced,
        disposable=d["disposable"] & d["has_email"],
        has_email=d["has_email"],
        has_phone=d["has_phone"],
        motivation=d["motivation"],
        day_of_year=calendar.day_of_year,
        heat=heat,
        noise=rng.normal(0.0, _NOISE, n),
    )
    d["converted"] = rng.random(n) < _sigmoid(logit)

    # corruption: drawn for every row, so invalid_rate changes nothing else
    d["corrupt_draw"], d["corruption"] = rng.random(n), rng.integers(0, len(CORRUPTIONS), n)
    return d


@dataclass(frozen=True)
class _Calendar:
    day_of_year: Array
    # the (market, month) grid the medians and signals are computed on, and each row's place in it
    grid_market: Array
    grid_month: Array
    pair: Array
    signals: dict[str, Array]


def _draw_calendar(
    rng: np.random.Generator, n: int, start_s: int, days: int, market: Array, d: dict[str, Array]
) -> _Calendar:
    """created_at (evening-heavy) and its calendar; market medians and signals depend on (market, month) only."""
    minute = (np.floor(rng.normal(17.5 * 60, 4 * 60, n)) % 1440).astype(np.int64)
    created = start_s + rng.integers(0, days, n) * _SECONDS_PER_DAY + minute * 60 + rng.integers(0, 60, n)
    d["created_s"] = created
    day_number = created // _SECONDS_PER_DAY
    year, month_of_year, _ = _civil(day_number)
    month = (year - 1970) * 12 + month_of_year - 1
    jan_first = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    first_month = int(month.min())
    grid_market, grid_month = (
        g.ravel()
        for g in np.meshgrid(np.arange(len(_MARKETS)), np.arange(first_month, int(month.max()) + 1), indexing="ij")
    )
    pair = market * (len(grid_month) // len(_MARKETS)) + month - first_month
    signals = {name: values[pair] for name, values in _market_signals(grid_market, grid_month).items()}
    return _Calendar(day_number - jan_first, grid_market, grid_month, pair, signals)


def _draw_property(
    rng: np.random.Generator, n: int, source: Array, market: Array, calendar: _Calendar, d: dict[str, Array]
) -> Array:
    """Kind, price around the market median, size, rooms and location; returns how overpriced sellers are."""
    kind = _pick(rng, [k.share for k in _KINDS], n)
    sell = rng.random(n) < np.array([s.sell_share for s in _SOURCES])[source]
    median = _market_median(calendar.grid_market, calendar.grid_month)[calendar.pair]
    expected = median * np.array([k.price_factor for k in _KINDS])[kind]
    price = expected * np.exp(rng.normal(0.0, 0.35, n) + 0.05 * sell)
    price = np.clip(np.round(price, -3), 10_000, LIMITS["price"][1] / 4)
    overpriced = np.maximum(0.0, np.log(price / expected)) * sell
    is_land = kind == _LAND
    size = np.array([k.sqft for k in _KINDS])[kind] * (price / expected) ** 0.7 * np.exp(rng.normal(0, 0.15, n))
    lot = np.exp(rng.normal(np.log(15_000), 0.8, n))
    sqft = np.where(
        is_land, np.clip(np.round(lot, -2), 1_000, LIMITS["sqft"][1]), np.clip(np.round(size, -1), 300, 15_000)
    )
    beds = np.clip(np.round(sqft / 600 + rng.normal(0, 0.4, n)), 0, 12)
    baths = np.maximum(1.0, np.round(2 * (beds * 0.7 + 0.4 + rng.normal(0, 0.35, n))) / 2)
    d.update(kind=kind, sell=sell, price=price, sqft=sqft, beds=beds, baths=baths, is_land=is_land)
    spread = _market_attr("spread")[market]
    d["lat"] = np.round(_market_attr("lat")[market] + rng.normal(0, 1, n) * spread, 5)
    d["lon"] = np.round(_market_attr("lon")[market] + rng.normal(0, 1, n) * spread * 1.2, 5)
    return np.asarray(overpriced)


def _draw_story(rng: np.random.Generator, n: int, z: Array, d: dict[str, Array]) -> None:
    """Timeline (urgency follows seriousness) and the description's motivation sentences."""
    urgency = 0.55 * z + 0.835 * rng.standard_normal(n)
    timeline = _KNOWN_BY_URGENCY[np.searchsorted(_URGENCY_CUTS, urgency)]
    timeline = np.where(rng.random(n) < 0.15, _UNKNOWN_TIMELINE, timeline)
    motivation = (rng.random(n) < _sigmoid(-1.7 + 0.6 * z)) * (1 + (rng.random(n) < 0.25))
    first_sentence, step = rng.integers(0, 5, n), rng.integers(0, 4, n)
    # 0: none; 1-5: one sentence; 6-25: two different sentences (first, first + 1 + step)
    d["motivation_code"] = np.select(
        [motivation == 1, motivation == 2], [1 + first_sentence, 6 + 4 * first_sentence + step], 0
    )
    d["timeline"], d["motivation"] = timeline, motivation
    d["template"], d["detail"] = rng.integers(0, 3, n), rng.integers(0, len(_DETAILS), n)


def _draw_contact(rng: np.random.Generator, n: int, source: Array, z: Array, d: dict[str, Array]) -> None:
    """Name, which contact details there are, and how the email and phone are written."""
    d["first"], d["last"] = rng.integers(0, len(_FIRST_NAMES), n), rng.integers(0, len(_LAST_NAMES), n)
    contact = _pick(rng, _CONTACT, n)
    d["has_email"], d["has_phone"] = contact != 2, contact != 1
    disposable_rate = np.array([s.disposable_rate for s in _SOURCES])[source] * np.exp(-0.6 * z)
    d["disposable"] = rng.random(n) < np.minimum(disposable_rate, 0.5)
    d["domain"] = _pick(rng, [share for _, share in _EMAIL_DOMAINS], n)
    d["disposable_domain"] = rng.integers(0, len(DISPOSABLE_DOMAINS), n)
    d["email_style"], d["email_caps"] = _pick(rng, _EMAIL_STYLES, n), rng.random(n) < 0.08
    d["email_number"], d["birth_year"] = rng.integers(1, 100, n), rng.integers(0, _BIRTH_YEARS, n)
    d["area"], d["exchange"], d["line"] = (
        rng.integers(0, _AREA_SLOTS, n),
        rng.integers(200, 1000, n),
        rng.integers(0, 10_000, n),
    )
    d["phone_format"] = _pick(rng, _PHONE_FORMATS, n)


def _draw_behaviour(rng: np.random.Generator, n: int, z: Array, d: dict[str, Array]) -> None:
    """Sessions, views, clicks, the serious interactions and response times: all rise with seriousness."""
    sessions = 1 + rng.poisson(np.exp(0.6 + 0.45 * z))
    views = sessions + rng.poisson(sessions * np.exp(0.9 + 0.2 * z))
    clicks = rng.binomial(views, _sigmoid(-1.0 + 0.3 * z))
    inquiries = rng.poisson(np.exp(-0.9 + 0.6 * z))
    messages = rng.poisson(np.exp(-1.1 + 0.6 * z))
    schedules = rng.poisson(np.exp(-2.4 + 0.8 * z))
    contacted = rng.random(n) < _sigmoid(1.2 + 0.8 * z)
    minutes = np.where(contacted, np.round(np.exp(3.0 - 0.5 * z + rng.normal(0, 1.1, n)), 1), np.nan)
    hours = np.round(np.exp(2.5 - 0.6 * z + rng.normal(0, 1.0, n)), 1)
    d.update(views=views, clicks=clicks, inquiries=inquiries, messages=messages, schedules=schedules)
    d.update(sessions=sessions, minutes_to_first_contact=minutes, hours_since_last_activity=hours)


def _market_heat(market: Array, signals: dict[str, Array], d: dict[str, Array]) -> Array:
    """Market signals (launch markets only) and how much hotter than usual each row's market is."""
    has_signals = np.array([m.signals for m in _MARKETS])[market]
    for name, values in signals.items():
        d[name] = np.where(has_signals, values, np.nan)
    base_inquiries = np.array([m.inquiries_per_listing or 1.0 for m in _MARKETS])[market]
    return np.asarray(np.where(has_signals, signals[INQUIRIES_PER_LISTING] / base_inquiries - 1, 0.0))


def _conversion_logit(
    *,
    z: Array,
    quality: Array,
    market: Array,
    timeline: Array,
    sell: Array,
    minutes: Array,
    engagement: Array,
    hours: Array,
    overpriced: Array,
    disposable: Array,
    has_email: Array,
    has_phone: Array,
    motivation: Array,
    day_of_year: Array,
    heat: Array,
    noise: Array,
) -> Array:
    """The log-odds of conversion: the story of the module docstring, term by term."""
    timeline_effect = np.array([_TIMELINE_EFFECT[t] for t in _TIMELINES])[timeline]
    responsiveness = np.where(np.isnan(minutes), -1.2, -0.35 * np.log1p(np.nan_to_num(minutes) / 10))
    return np.asarray(
        _INTERCEPT
        + 0.8 * z
        + quality
        + _market_attr("effect")[market]
        + timeline_effect
        + 0.15 * sell
        + responsiveness
        + 0.35 * np.log1p(engagement)
        - 0.15 * np.log1p(hours / 24)
        - 1.5 * overpriced
        - 1.0 * disposable
        - 0.35 * ~has_phone
        - 0.10 * ~has_email
        + 0.45 * motivation
        + 0.3 * np.cos(2 * np.pi * (day_of_year - 105) / 365.25)
        + 1.0 * heat
        + noise
    )


# --------------------------------------------------------------------------------------------------------------
# Text


def _strings(values: Sequence[str]) -> pa.Array:
    return pa.array(list(values), type=pa.string())


@cache
def _vocabulary() -> dict[str, pa.Array]:
    """Every text made of the small vocabularies, indexed as `_format` computes it (built once)."""
    lower_first = [f.lower() for f in _FIRST_NAMES]
    locals_ = []
    for style in range(len(_EMAIL_STYLES)):
        for caps in (False, True):
            for first, first_lower in zip(_FIRST_NAMES, lower_first, strict=True):
                head = first if caps else first_lower
                for last in _LAST_NAMES:
                    tail = last if caps else last.lower()
                    locals_.append(
                        (
                            f"{head}.{tail}",
                            f"{head}{tail}",
                            f"{head}_{tail}",
                            f"{head[0]}{tail}",
                            f"{head}.{tail}",
                            head,
                        )[style]
                    )
    numbers = ["", *(str(i) for i in range(1, 100)), *(str(_FIRST_BIRTH_YEAR + i) for i in range(_BIRTH_YEARS))]
    domains = [*(domain for domain, _ in _EMAIL_DOMAINS), *DISPOSABLE_DOMAINS]
    slots = [m.area_codes[i % len(m.area_codes)] for m in _MARKETS for i in range(_AREA_SLOTS)]
    phone_heads = [
        f"{prefix}{area}{first_sep}{exchange}{second_sep}"
        for prefix, first_sep, second_sep in _PHONE_PARTS
        for area in slots
        for exchange in range(200, 1000)
    ]
    motivations = [
        ["", *sentences, *(a + sentences[(i + 1 + k) % 5] for i, a in enumerate(sentences) for k in range(4))]
        for sentences in _MOTIVATION
    ]
    descriptions = [
        f"{before}{kind.label}{between}{market.city}{after}{detail}{motivation}"
        for intent in range(2)
        for before, between, after in _TEMPLATES[intent]
        for kind in _KINDS
        for market in _MARKETS
        for detail in _DETAILS
        for motivation in motivations[intent]
    ]
    return {
        "name": _strings([f"{first} {last}" for first in _FIRST_NAMES for last in _LAST_NAMES]),
        "email_local": _strings(locals_),
        "email_suffix": _strings([f"{number}@{domain}" for number in numbers for domain in domains]),
        "phone_head": _strings(phone_heads),
        "phone_line": _strings([f"{line:04d}" for line in range(10_000)]),
        "description": _strings(descriptions),
        "source": _strings([s.slug for s in _SOURCES]),
        "market": _strings([m.slug for m in _MARKETS]),
        "property_type": _strings([k.type.value for k in _KINDS]),
        "intent": _strings(_INTENTS),
        "timeline": _strings([t.value for t in _TIMELINES]),
        "label": _strings(["0", "1"]),
    }


def _take(vocabulary: str, index: Array, missing: Array | None = None) -> pa.Array:
    return pc.take(_vocabulary()[vocabulary], pa.array(index, type=pa.int64(), mask=missing))


def _join(*parts: pa.Array | str, skip_nulls: bool = False) -> pa.Array:
    """Row-wise concatenation; null when any part is null, or (`skip_nulls`) leaving null parts out."""
    join: Any = pc.binary_join_element_wise  # the stubs cannot type a mix of arrays and str scalars
    result: pa.Array = join(*parts, "", null_handling="skip" if skip_nulls else "emit_null")
    return result


def _cast_text(values: Array, missing: Array | None = None, *, integer: bool = False) -> pa.Array:
    """Numbers as text by Arrow's cast (shortest round-trip form); NaN or `missing` -> null."""
    mask = np.isnan(values) if values.dtype.kind == "f" else np.zeros(len(values), dtype=bool)
    if missing is not None:
        mask = mask | missing
    numbers = np.nan_to_num(values).astype(np.int64) if integer else values.astype(np.float64)
    return pc.cast(pa.array(numbers, mask=mask), pa.string())


def _decimal_text(values: Array, decimals: int, missing: Array | None = None) -> pa.Array:
    """Numbers with at most `decimals` decimals ("2", "2.5", "0.0141"), for columns with few distinct values."""
    mask = np.isnan(values)
    if missing is not None:
        mask = mask | missing
    distinct, index = np.unique(np.where(mask, 0.0, values), return_inverse=True)
    texts = []
    for value in distinct.tolist():
        text = f"{value + 0.0:.{decimals}f}"
        texts.append(text.rstrip("0").rstrip(".") if "." in text else text)
    return pc.take(_strings(texts), pa.array(index.reshape(-1), type=pa.int64(), mask=mask))


def _fixed_width(matrix: Array, missing: Array | None = None) -> pa.Array:
    """A string array from an (n, width) matrix of ASCII codes."""
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    validity = None
    if missing is not None and missing.any():
        validity = pa.py_buffer(np.packbits(~missing, bitorder="little").data)
    data = pa.py_buffer(np.ascontiguousarray(matrix, dtype=np.uint8).data)
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(offsets.data), data])


def _digits(values: Array, width: int) -> Array:
    """(n, width) ASCII codes of the zero-padded decimal `values` (which must fit in `width` digits)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return np.asarray((values[:, None] // powers) % 10 + ord("0"), dtype=np.uint8)


def _literal(text: str, n: int) -> Array:
    return np.broadcast_to(np.frombuffer(text.encode(), dtype=np.uint8), (n, len(text)))


def _created_at(seconds: Array, missing: Array) -> pa.Array:
    """ISO 8601 UTC text, e.g. "2026-03-04T10:15:00Z"."""
    n = len(seconds)
    day_number, second_of_day = np.divmod(seconds, _SECONDS_PER_DAY)
    year, month, day = _civil(day_number)
    hour, rest = np.divmod(second_of_day, 3600)
    minute, second = np.divmod(rest, 60)
    parts = [
        _digits(year, 4), _literal("-", n), _digits(month, 2), _literal("-", n), _digits(day, 2),
        _literal("T", n), _digits(hour, 2), _literal(":", n), _digits(minute, 2), _literal(":", n),
        _digits(second, 2), _literal("Z", n),
    ]  # fmt: skip
    return _fixed_width(np.hstack(parts), missing)


def _ids(seed: int, rows: Array) -> pa.Array:
    """`gen-{seed}-{row:08d}`."""
    if len(rows) and int(rows.max()) >= 10**8:
        return _join(f"gen-{seed}-", pc.utf8_lpad(_cast_text(rows, integer=True), 8, "0"))
    return _fixed_width(np.hstack([_literal(f"gen-{seed}-", len(rows)), _digits(rows, 8)]))


def _email(d: dict[str, Array]) -> pa.Array:
    n_first, n_last = len(_FIRST_NAMES), len(_LAST_NAMES)
    style = d["email_style"]
    local = ((style * 2 + d["email_caps"]) * n_first + d["first"]) * n_last + d["last"]
    number = np.select([style == 4, style == 5], [d["email_number"], 100 + d["birth_year"]], 0)
    domain = np.where(d["disposable"], len(_EMAIL_DOMAINS) + d["disposable_domain"], d["domain"])
    suffix = number * (len(_EMAIL_DOMAINS) + len(DISPOSABLE_DOMAINS)) + domain
    return _join(_take("email_local", local, ~d["has_email"]), _take("email_suffix", suffix))


def _phone(d: dict[str, Array]) -> pa.Array:
    head = (d["phone_format"] * len(_MARKETS) * _AREA_SLOTS + d["market"] * _AREA_SLOTS + d["area"]) * 800
    head = head + d["exchange"] - 200
    return _join(_take("phone_head", head, ~d["has_phone"]), _take("phone_line", d["line"]))


def _description(d: dict[str, Array]) -> pa.Array:
    index = d["sell"] * 3 + d["template"]
    for name, size in (
        ("kind", len(_KINDS)),
        ("market", len(_MARKETS)),
        ("detail", len(_DETAILS)),
        ("motivation_code", 26),
    ):
        index = index * size + d[name]
    return _take("description", index, d["missing_description"])


def _format(d: dict[str, Array], first_row: int, seed: int, invalid_rate: float, leads_only: bool) -> pa.Table:
    """The text table of drawn rows [first_row, first_row + n)."""
    n = len(d["source"])
    no_place = d["missing_lat_lon"]
    cells: dict[str, pa.Array] = {
        "id": _ids(seed, np.arange(first_row, first_row + n, dtype=np.int64)),
        "source": _take("source", d["source"]),
        "created_at": _created_at(d["created_s"], d["missing_created_at"]),
        "name": _take("name", d["first"] * len(_LAST_NAMES) + d["last"], d["missing_name"]),
        "email": _email(d),
        "phone": _phone(d),
        "property_type": _take("property_type", d["kind"], d["missing_property_type"]),
        "price": _cast_text(d["price"], d["missing_price"], integer=True),
        "beds": _decimal_text(d["beds"], 0, d["missing_beds"] | d["is_land"]),
        "baths": _decimal_text(d["baths"], 1, d["missing_baths"] | d["is_land"]),
        "sqft": _cast_text(d["sqft"], d["missing_sqft"], integer=True),
        "lat": _cast_text(d["lat"], no_place),
        "lon": _cast_text(d["lon"], no_place),
        "market": _take("market", d["market"]),
        "intent": _take("intent", d["sell"]),
        "timeline": _take("timeline", d["timeline"], d["missing_timeline"]),
        "description": _description(d),
    }
    corrupt = d["corrupt_draw"] < invalid_rate
    for index, (name, bad) in enumerate(CORRUPTIONS):
        mask = corrupt & (d["corruption"] == index)
        if mask.any():
            cells[name] = pc.if_else(pa.array(mask), pa.scalar(bad, pa.string()), cells[name])
    if not leads_only:
        untracked = d["missing_behaviour"]
        for name in BEHAVIOUR_COLUMNS:
            values = d[name]
            cells[name] = _cast_text(values, untracked, integer=values.dtype.kind in "iub")
        for name, decimals in zip(MARKET_COLUMNS, _MARKET_DECIMALS, strict=True):
            cells[name] = _decimal_text(d[name], max(decimals, 0))
        cells[LABEL_COLUMN] = _take("label", d["converted"])
    schema = _schema(leads_only)
    return pa.table([cells[name] for name in schema.names], schema=schema)


# --------------------------------------------------------------------------------------------------------------
# Rows in parallel pieces


@dataclass(frozen=True, slots=True)
class _Job:
    seed: int
    leads_only: bool
    invalid_rate: float
    start_s: int
    days: int

    def piece(self, first: int, count: int) -> pa.Table:
        """Rows [first, first + count), all inside one block."""
        block, offset = divmod(first, BLOCK)
        draws = _draw_block(self.seed, block, self.start_s, self.days)
        if count != BLOCK:
            draws = {name: values[offset : offset + count] for name, values in draws.items()}
        return _format(draws, first, self.seed, self.invalid_rate, self.leads_only)

    def submit(self, pool: ThreadPoolExecutor, first: int, count: int) -> list[Future[pa.Table]]:
        """Futures of the block-aligned pieces of rows [first, first + count), in order."""
        futures = []
        end = first + count
        while first < end:
            stop = min(end, (first // BLOCK + 1) * BLOCK)
            futures.append(pool.submit(self.piece, first, stop - first))
            first = stop
        return futures

    def table(self, futures: list[Future[pa.Table]]) -> pa.Table:
        tables = [future.result() for future in futures]
        return pa.concat_tables(tables) if tables else _schema(self.leads_only).empty_table()


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _check(rows: int, seed: int, invalid_rate: float, days: int) -> None:
    if rows < 0:
        raise ValueError("rows must not be negative")
    if seed < 0:
        raise ValueError("seed must not be negative")
    if not 0.0 <= invalid_rate <= 1.0:
        raise ValueError("invalid_rate must be between 0 and 1")
    if days < 1:
        raise ValueError("days must be at least 1")


def _epoch_seconds(start: datetime, days: int) -> int:
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    seconds = int(start.timestamp())
    if not datetime(1000, 1, 1, tzinfo=UTC).timestamp() <= seconds <= datetime(9000, 1, 1, tzinfo=UTC).timestamp():
        raise ValueError("start must be between the years 1000 and 9000")
    return seconds


# --------------------------------------------------------------------------------------------------------------
# Public API


def generate_table(
    rows: int,
    seed: int,
    *,
    leads_only: bool = False,
    invalid_rate: float = 0.01,
    start: datetime = DEFAULT_START,
    days: int = DEFAULT_DAYS,
) -> pa.Table:
    """`rows` synthetic leads as text columns (the story is in the module docstring); same arguments, same table."""
    _check(rows, seed, invalid_rate, days)
    job = _Job(seed, leads_only, invalid_rate, _epoch_seconds(start, days), days)
    with ThreadPoolExecutor(_workers()) as pool:
        return job.table(job.submit(pool, 0, rows))


def market_snapshots(year: int, month: int) -> list[MarketSnapshot]:
    """The launch markets' signals for one calendar month, as the generated leads of that month carry them."""
    launch = np.array([i for i, m in enumerate(_MARKETS) if m.signals])
    months = np.full(len(launch), (year - 1970) * 12 + month - 1)
    signals = _market_signals(launch, months)
    period = f"{year:04d}-{month:02d}"
    return [
        snapshot_from_signals(_MARKETS[index].slug, period, {name: values[row] for name, values in signals.items()})
        for row, index in enumerate(launch)
    ]


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unsupported file extension {path.suffix!r}; use one of {', '.join(FORMATS)}")
    return suffix


_JSONL_SLICE = 8_192
_NULL_TEXT = pa.scalar(None, pa.string())


def _string_data(column: pa.Array) -> Array:
    """The UTF-8 bytes of all cells of a string array."""
    _, offset_buffer, data = column.buffers()
    if offset_buffer is None or data is None:
        return np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(memoryview(offset_buffer), dtype=np.int32, count=len(column) + 1, offset=column.offset * 4)
    return np.frombuffer(memoryview(data), dtype=np.uint8)[int(offsets[0]) : int(offsets[-1])]


def _json_ready(column: pa.Array) -> pa.Array:
    """Cell texts escaped for use between JSON double quotes."""
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    data = _string_data(column)
    if not ((data < 0x20) | (data == ord('"')) | (data == ord("\\"))).any():
        return column
    return pa.array(
        [None if v is None else json.dumps(v, ensure_ascii=False)[1:-1] for v in column.to_pylist()], pa.string()
    )


def _jsonl_lines(batch: pa.RecordBatch) -> pa.Array:
    """One JSON object per row (ending in a newline); keys of null cells are omitted."""
    names = batch.schema.names
    columns = [_json_ready(batch.column(i)) for i in range(batch.num_columns)]
    if not columns:
        return pa.array(["{}\n"] * batch.num_rows, pa.string())
    if columns[0].null_count:  # general form: every field as ,"key":"value", then drop the first comma
        fragments = [_join(f',{json.dumps(name)}:"', column, '"') for name, column in zip(names, columns, strict=True)]
        body = _join(pa.array([""] * batch.num_rows, pa.string()), *fragments, skip_nulls=True)
        return _join("{", pc.utf8_slice_codeunits(body, 1), "}\n")
    # {"first":"v1","k2":"v2"}: each key carries the closing quote of the value before it; a null value drops
    # its key too, because `skip` leaves out null arguments.
    parts: list[pa.Array | str] = ["{" + json.dumps(names[0]) + ':"', columns[0]]
    for name, column in zip(names[1:], columns[1:], strict=True):
        key = f'",{json.dumps(name)}:"'
        parts.append(pc.if_else(pc.is_valid(column), key, _NULL_TEXT) if column.null_count else key)
        parts.append(column)
    parts.append('"}\n')
    return _join(*parts, skip_nulls=True)


def _write_jsonl(table: pa.Table, handle: BinaryIO, pool: ThreadPoolExecutor) -> None:
    batches = table.to_batches(max_chunksize=_JSONL_SLICE)
    for lines in pool.map(_jsonl_lines, batches):
        if len(lines):
            handle.write(_string_data(lines).data)


def _writer(
    path: Path, suffix: str, schema: pa.Schema, pool: ThreadPoolExecutor
) -> tuple[Callable[[pa.Table], None], Callable[[], None]]:
    """(write a table, close) for a file built from consecutive tables."""
    if suffix == ".csv":
        csv_writer = pa_csv.CSVWriter(path, schema)
        return csv_writer.write_table, csv_writer.close
    if suffix == ".parquet":
        parquet_writer = pq.ParquetWriter(path, schema)
        return parquet_writer.write_table, parquet_writer.close
    handle = path.open("wb")
    return (lambda table: _write_jsonl(table, handle, pool)), handle.close


def write_table(table: pa.Table, path: Path) -> None:
    """Write `table` as CSV (null = empty cell), JSONL (null keys omitted) or Parquet, chosen by `path`'s extension."""
    path = Path(path)
    suffix = _format_of(path)
    if suffix == ".csv":
        pa_csv.write_csv(table, path)
    elif suffix == ".parquet":
        pq.write_table(table, path)
    else:
        with path.open("wb") as handle, ThreadPoolExecutor(_workers()) as pool:
            _write_jsonl(table, handle, pool)


def generate_file(
    rows: int,
    seed: int,
    path: Path,
    *,
    leads_only: bool = False,
    invalid_rate: float = 0.01,
    chunk_rows: int = 250_000,
) -> None:
    """Generate `rows` leads into `path` (.csv, .jsonl or .parquet), `chunk_rows` at a time.

    The rows are those of `generate_table(rows, seed, leads_only=..., invalid_rate=...)`; CSV and JSONL files are
    byte-identical to `write_table(generate_table(...), path)`, a Parquet file holds the same table (one row group
    per chunk). At most two chunks are in memory: the next one is generated while the current one is written.
    """
    path = Path(path)
    suffix = _format_of(path)
    _check(rows, seed, invalid_rate, DEFAULT_DAYS)
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    job = _Job(seed, leads_only, invalid_rate, _epoch_seconds(DEFAULT_START, DEFAULT_DAYS), DEFAULT_DAYS)
    with ThreadPoolExecutor(_workers()) as pool:
        write, close = _writer(path, suffix, _schema(leads_only), pool)
        try:
            pending: list[Future[pa.Table]] | None = None
            for first in range(0, rows, chunk_rows):
                futures = job.submit(pool, first, min(chunk_rows, rows - first))
                if pending is not None:
                    write(job.table(pending))
                pending = futures
            if pending is not None:
                write(job.table(pending))
        finally:
            close()
