"""The recommendation rules of a tenant, as data: stored in BuyersTable (pk `<tenant>#config`, sk
`recommendations`); a tenant without an item gets these defaults. Changing a rule is a write, never a deploy.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aiqleads.models import Tier


class TierRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_markets: int | None = Field(
        default=None, ge=1, description="how many of the buyer's authorised markets this tier may draw from (None: all)"
    )
    max_page_size: int = Field(default=100, ge=1, le=100)


class FitWeights(BaseModel):
    """Multipliers on the conversion probability; 1.0 is a perfect fit. Each is in (0, 1] except the history boost."""

    model_config = ConfigDict(extra="forbid")

    property_type_mismatch: float = Field(default=0.6, gt=0, le=1)
    price_outside_range_floor: float = Field(
        default=0.5, gt=0, le=1, description="lowest multiplier for a price far outside the buyer's range"
    )
    price_tolerance: float = Field(
        default=0.5, gt=0, description="relative distance outside the range at which the floor is reached"
    )
    market_not_preferred: float = Field(default=0.85, gt=0, le=1)
    history_boost: float = Field(
        default=0.15, ge=0, le=1, description="bonus for the market and property type of the buyer's past purchases"
    )


class Freshness(BaseModel):
    model_config = ConfigDict(extra="forbid")

    half_life_days: float = Field(default=21.0, gt=0)
    floor: float = Field(default=0.4, gt=0, le=1, description="old leads keep at least this share of their score")


class FraudRules(BaseModel):
    """The fraud signal is a weighted sum of contact red flags (see card.py), capped at 1; leads at or above the
    threshold are never recommended."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=0.6, ge=0, le=1)
    disposable_email: float = Field(default=0.6, ge=0, le=1)
    suspicious_phone: float = Field(default=0.4, ge=0, le=1)
    no_phone: float = Field(default=0.1, ge=0, le=1)
    no_email: float = Field(default=0.1, ge=0, le=1)
    no_name: float = Field(default=0.15, ge=0, le=1)
    role_email: float = Field(default=0.1, ge=0, le=1)


class Diversity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_source_share: float = Field(default=0.5, gt=0, le=1, description="most of a page one lead source may fill")
    max_market_share: float = Field(default=0.6, gt=0, le=1, description="most of a page one market may fill")


def _default_tiers() -> dict[Tier, TierRules]:
    return {
        Tier.BASIC: TierRules(max_markets=1, max_page_size=25),
        Tier.PRO: TierRules(max_markets=3, max_page_size=50),
        Tier.ENTERPRISE: TierRules(max_markets=None, max_page_size=100),
    }


class RecommendationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tiers: dict[Tier, TierRules] = Field(default_factory=_default_tiers)
    fit: FitWeights = Field(default_factory=FitWeights)
    freshness: Freshness = Field(default_factory=Freshness)
    fraud: FraudRules = Field(default_factory=FraudRules)
    diversity: Diversity = Field(default_factory=Diversity)
    candidates_per_market: int = Field(
        default=100,
        ge=1,
        le=500,
        description="how many of each allowed market's best-scored leads (ScoreIndex order) are ranked for a buyer",
    )
    min_score: int = Field(default=0, ge=0, le=100, description="model scores below this are never recommended")

    @model_validator(mode="after")
    def _every_tier(self) -> RecommendationConfig:
        defaults = _default_tiers()
        for tier in Tier:
            self.tiers.setdefault(tier, defaults[tier])
        return self

    def rules(self, tier: Tier) -> TierRules:
        return self.tiers[tier]
