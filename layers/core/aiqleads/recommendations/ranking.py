"""One candidate for one buyer: is it eligible, and how high does it rank? Pure functions of the data.

    rank_score = probability x fit x freshness

- probability: the model's calibrated conversion probability (the score item's);
- fit: property type (x `property_type_mismatch` if the buyer lists types and this is not one), price (within the
  buyer's range: 1; outside: falls linearly with the relative distance down to `price_outside_range_floor`),
  preferred markets (x `market_not_preferred` outside them), past purchases (x 1 + `history_boost` x the share
  of {market, property type} matching leads the buyer bought);
- freshness: 0.5 ** (age in days / half-life), never below the floor.
Excluded, whatever the score: markets outside the buyer's allowed ones, leads the buyer bought, leads sold
exclusively, a fraud signal at or above the threshold, a model score below the tenant's or the request's minimum.
Ties break on the lead id, so the order is total and the same on every call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiqleads.models import Buyer
from aiqleads.recommendations.card import LeadCard
from aiqleads.recommendations.config import RecommendationConfig

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A scored lead as the ScoreIndex returns it."""

    lead_id: str
    market: str
    probability: float
    score: int
    grade: str
    model_version: str
    card: LeadCard | None
    sold_exclusive_at: str | None = None  # ISO 8601: when the lead was sold exclusively
    reasons_json: str = "[]"
    scored_at: str | None = None
    fit: int | None = None
    engagement: int | None = None
    matrix_grade: str | None = None
    recent_scores: str | None = None  # the score item's trend points (JSON, leads/trend.py): the trend, no read


@dataclass(frozen=True, slots=True)
class Purchase:
    lead_id: str
    market: str
    property_type: str | None = None
    source: str | None = None
    exclusive: bool = False
    purchased_at: str | None = None


@dataclass(frozen=True)
class BuyerContext:
    """A buyer with what ranking needs from their history."""

    buyer: Buyer
    purchases: Sequence[Purchase] = ()
    purchased: frozenset[str] = field(init=False)
    bought_markets: frozenset[str] = field(init=False)
    bought_types: frozenset[str] = field(init=False)

    def bought_before(self, as_of: datetime) -> frozenset[str]:
        """Leads bought up to `as_of` (the profile's own list counts as always bought)."""
        stamp = iso(as_of)
        earlier = {p.lead_id for p in self.purchases if p.purchased_at is None or p.purchased_at <= stamp}
        return frozenset(earlier) | set(self.buyer.purchased_lead_ids)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "purchased", frozenset(p.lead_id for p in self.purchases) | set(self.buyer.purchased_lead_ids)
        )
        object.__setattr__(self, "bought_markets", frozenset(p.market for p in self.purchases))
        object.__setattr__(self, "bought_types", frozenset(p.property_type for p in self.purchases if p.property_type))


def allowed_markets(buyer: Buyer, config: RecommendationConfig) -> list[str]:
    """The authorised markets the buyer's tier may draw from, in the buyer's own order."""
    markets = list(dict.fromkeys(buyer.authorised_markets))
    limit = config.rules(buyer.tier).max_markets
    return markets if limit is None else markets[:limit]


def fraud_signal(card: LeadCard, config: RecommendationConfig) -> float:
    rules = config.fraud
    total = (
        rules.disposable_email * card.disposable_email
        + rules.suspicious_phone * card.suspicious_phone
        + rules.no_phone * (not card.has_phone)
        + rules.no_email * (not card.has_email)
        + rules.no_name * (not card.has_name)
        + rules.role_email * card.role_email
    )
    return round(min(1.0, total), 6)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hidden(candidate: Candidate, context: BuyerContext) -> bool:
    """Never shown, whenever it happened: bought by this buyer, or sold exclusively."""
    return candidate.sold_exclusive_at is not None or candidate.lead_id in context.purchased


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def freshness(card: LeadCard, config: RecommendationConfig, as_of: datetime) -> float:
    age_days = max(0.0, (as_of - _parse_time(card.created_at)).total_seconds() / SECONDS_PER_DAY)
    return max(config.freshness.floor, 0.5 ** (age_days / config.freshness.half_life_days))


@dataclass(frozen=True, slots=True)
class Fit:
    value: float
    type_match: bool | None  # None: the buyer has no preference
    price_match: bool | None
    market_preferred: bool | None
    history_match: float  # share of {market, type} seen in past purchases


def fit(candidate: Candidate, card: LeadCard, context: BuyerContext, config: RecommendationConfig) -> Fit:
    prefs = context.buyer.preferences
    weights = config.fit
    value = 1.0
    type_match: bool | None = None
    if prefs.property_types:
        type_match = card.property_type in {t.value for t in prefs.property_types}
        value *= 1.0 if type_match else weights.property_type_mismatch
    price_match: bool | None = None
    if (prefs.price_min is not None or prefs.price_max is not None) and card.price is not None:
        low = prefs.price_min if prefs.price_min is not None else 0.0
        high = prefs.price_max if prefs.price_max is not None else float("inf")
        price_match = low <= card.price <= high
        if not price_match:
            edge = low if card.price < low else high
            distance = abs(card.price - edge) / max(edge, 1.0)
            share = min(1.0, distance / weights.price_tolerance)
            value *= 1.0 - share * (1.0 - weights.price_outside_range_floor)
    market_preferred: bool | None = None
    if prefs.markets:
        market_preferred = candidate.market in prefs.markets
        value *= 1.0 if market_preferred else weights.market_not_preferred
    history = 0.0
    if context.purchases:
        history = ((candidate.market in context.bought_markets) + (card.property_type in context.bought_types)) / 2.0
        value *= 1.0 + weights.history_boost * history
    return Fit(value, type_match, price_match, market_preferred, history)


@dataclass(frozen=True, slots=True)
class Ranked:
    candidate: Candidate
    card: LeadCard
    rank_score: float
    fit: Fit
    freshness: float
    fraud: float

    @property
    def key(self) -> tuple[float, str]:
        """Sort key: best first, then the lead id (a total order: pagination never sees two items as equal)."""
        return (-self.rank_score, self.candidate.lead_id)

    @property
    def source(self) -> str:
        return self.card.source

    @property
    def market(self) -> str:
        return self.candidate.market


def evaluate(
    candidate: Candidate,
    context: BuyerContext,
    config: RecommendationConfig,
    as_of: datetime,
    *,
    markets: Iterable[str],
    score_min: int = 0,
    bought: frozenset[str] | None = None,
) -> Ranked | None:
    """The candidate ranked for this buyer, or None when a rule excludes it. Purchases and exclusive sales count
    up to `as_of` (later ones are `hidden` at output, so they never reshape pages already handed out);
    `bought` is `context.bought_before(as_of)`, passed in when evaluating many candidates."""
    card = candidate.card
    if card is None or candidate.market not in markets:
        return None
    if bought is None:
        bought = context.bought_before(as_of)
    if candidate.lead_id in bought:
        return None
    if candidate.sold_exclusive_at is not None and candidate.sold_exclusive_at <= iso(as_of):
        return None
    if candidate.score < max(score_min, config.min_score):
        return None
    fraud = fraud_signal(card, config)
    if fraud >= config.fraud.threshold:
        return None
    lead_fit = fit(candidate, card, context, config)
    fresh = freshness(card, config, as_of)
    rank_score = round(candidate.probability * lead_fit.value * fresh, 9)
    return Ranked(candidate, card, rank_score, lead_fit, fresh, fraud)
