"""The recommendation use cases over small store interfaces (storage/ implements them; tests pass fakes).

Buyers and purchases, ranked pages with cursors, one recommendation with its metadata, feedback for training.
The rules come from the tenant's stored RecommendationConfig (config.py), never from code branches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from aiqleads.errors import Conflict, Forbidden, InvalidInput, NotFound
from aiqleads.models import (
    Buyer,
    BuyerPreferences,
    PurchaseRequest,
    Reason,
    Recommendation,
    RecommendationFeedback,
    RecommendationMetadata,
    Score,
    Slug,
    Tier,
)
from aiqleads.recommendations import engine
from aiqleads.recommendations.config import RecommendationConfig
from aiqleads.recommendations.engine import CandidateSource, Cursor, Mapper, sequential_map
from aiqleads.recommendations.ids import parse_recommendation_id, recommendation_id
from aiqleads.recommendations.insights import actions, features_used, insights
from aiqleads.recommendations.ranking import (
    BuyerContext,
    Candidate,
    Purchase,
    Ranked,
    allowed_markets,
    evaluate,
    hidden,
    iso,
)

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


class MarketplaceStore(Protocol):
    def buyer_context(self, tenant_id: str, buyer_id: str) -> BuyerContext | None: ...
    def put_buyer(self, tenant_id: str, buyer: Buyer) -> None: ...
    def config(self, tenant_id: str) -> RecommendationConfig: ...
    def put_config(self, tenant_id: str, config: RecommendationConfig) -> None: ...
    def record_purchase(self, tenant_id: str, buyer_id: str, purchase: Purchase) -> None: ...
    def log(self, tenant_id: str, recommendations: Sequence[Recommendation]) -> None: ...
    def recommendation(self, tenant_id: str, buyer_id: str, lead_id: str) -> Recommendation | None: ...
    def put_feedback(
        self, tenant_id: str, buyer_id: str, lead_id: str, feedback: RecommendationFeedback, at: str
    ) -> None: ...


class CandidateStore(CandidateSource, Protocol):
    def candidate(self, tenant_id: str, lead_id: str) -> Candidate | None: ...
    def sold_exclusive(self, tenant_id: str, lead_ids: Sequence[str]) -> dict[str, str]: ...


# ---------------------------------------------------------------------------------------------------- shapes


class BuyerProfile(BaseModel):
    """PUT /v1/buyers/{id}: the profile (purchases are recorded through POST .../purchases)."""

    name: str | None = Field(default=None, max_length=200)
    tier: Tier = Tier.BASIC
    authorised_markets: list[Slug] = Field(default_factory=list, max_length=100)
    preferences: BuyerPreferences = Field(default_factory=BuyerPreferences)


class PurchaseRecord(BaseModel):
    buyer_id: str
    lead_id: str
    market: str
    exclusive: bool
    price_paid: float | None = None
    purchased_at: str


class PageMeta(BaseModel):
    buyer_id: str
    count: int
    limit: int
    page: int = Field(ge=1)
    has_more: bool
    next_cursor: str | None
    as_of: str
    markets: list[str] = Field(description="the markets this buyer's tier and authorisation allow (and the filter)")
    candidates: int = Field(description="leads read from the score index for this list")
    eligible: int = Field(description="candidates left after the business rules: the list pages through these")
    diversity_relaxed: bool = Field(description="the source/market caps could not all hold with what was left")


class RecommendationPage(BaseModel):
    data: list[Recommendation]
    meta: PageMeta


@dataclass
class RecommendationService:
    store: MarketplaceStore
    candidates: CandidateStore
    mapper: Mapper = sequential_map
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    # ---------------------------------------------------------------- buyers
    def put_buyer(self, tenant_id: str, buyer_id: str, profile: BuyerProfile) -> tuple[Buyer, bool]:
        """Create or replace the profile; True when it was created."""
        existing = self.store.buyer_context(tenant_id, buyer_id)
        buyer = Buyer(id=buyer_id, **profile.model_dump())
        self.store.put_buyer(tenant_id, buyer)
        return self._with_purchases(buyer, existing), existing is None

    def get_buyer(self, tenant_id: str, buyer_id: str) -> Buyer:
        return self._with_purchases(self._context(tenant_id, buyer_id).buyer, self._context(tenant_id, buyer_id))

    @staticmethod
    def _with_purchases(buyer: Buyer, context: BuyerContext | None) -> Buyer:
        bought = [p.lead_id for p in context.purchases] if context else []
        return buyer.model_copy(
            update={"purchased_lead_ids": list(dict.fromkeys([*buyer.purchased_lead_ids, *bought]))}
        )

    def _context(self, tenant_id: str, buyer_id: str) -> BuyerContext:
        context = self.store.buyer_context(tenant_id, buyer_id)
        if context is None:
            raise NotFound(f"no buyer {buyer_id!r}", {"buyer_id": buyer_id})
        return context

    def record_purchase(self, tenant_id: str, buyer_id: str, request: PurchaseRequest) -> PurchaseRecord:
        context = self._context(tenant_id, buyer_id)
        candidate = self.candidates.candidate(tenant_id, request.lead_id)
        if candidate is None:
            raise NotFound(f"no scored lead {request.lead_id!r}", {"lead_id": request.lead_id})
        config = self.store.config(tenant_id)
        if candidate.market not in allowed_markets(context.buyer, config):
            raise Forbidden(
                f"buyer {buyer_id!r} may not buy leads in {candidate.market!r} (authorisation or tier)",
                {"market": candidate.market, "allowed_markets": allowed_markets(context.buyer, config)},
            )
        if request.lead_id in context.purchased:
            raise Conflict(f"buyer {buyer_id!r} already bought lead {request.lead_id!r}", {"lead_id": request.lead_id})
        card = candidate.card
        purchase = Purchase(
            lead_id=request.lead_id,
            market=candidate.market,
            property_type=card.property_type if card else None,
            source=card.source if card else None,
            exclusive=request.exclusive,
            purchased_at=iso(self.clock()),
        )
        self.store.record_purchase(tenant_id, buyer_id, purchase)  # Conflict when sold exclusively meanwhile
        return PurchaseRecord(
            buyer_id=buyer_id,
            lead_id=purchase.lead_id,
            market=purchase.market,
            exclusive=purchase.exclusive,
            price_paid=request.price_paid,
            purchased_at=str(purchase.purchased_at),
        )

    # ---------------------------------------------------------------- recommendations
    def recommend(
        self,
        tenant_id: str,
        buyer_id: str,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        score_min: int = 0,
        market: str | None = None,
        log: bool = True,
        as_of: datetime | None = None,
    ) -> RecommendationPage:
        context = self._context(tenant_id, buyer_id)
        config = self.store.config(tenant_id)
        _check_page_size(limit, context.buyer.tier, config)
        markets = _markets_for(context, config, market)
        query = engine.fingerprint(buyer_id, limit, score_min, market)
        position = Cursor.decode(cursor, query) if cursor else self._first_page(query, as_of)
        as_of = position.as_of
        found = engine.gather_candidates(self.candidates, tenant_id, markets, config.candidates_per_market, self.mapper)
        bought = context.bought_before(as_of)
        ranked = (
            evaluate(candidate, context, config, as_of, markets=markets, score_min=score_min, bought=bought)
            for candidate in found
        )
        pool: list[Ranked] = [item for item in ranked if item is not None]
        page = engine.paginate(pool, limit, config.diversity, position.page)
        data = self._served(tenant_id, buyer_id, context, page.items, position.page * limit + 1, as_of)
        if log and data:
            self.store.log(tenant_id, data)
        meta = PageMeta(
            buyer_id=buyer_id,
            count=len(data),
            limit=limit,
            page=position.page + 1,
            has_more=page.has_more,
            next_cursor=Cursor(as_of, position.page + 1, query).encode() if page.has_more else None,
            as_of=iso(as_of),
            markets=markets,
            candidates=len(found),
            eligible=len(pool),
            diversity_relaxed=page.relaxed,
        )
        return RecommendationPage(data=data, meta=meta)

    def _first_page(self, query: str, as_of: datetime | None) -> Cursor:
        start = as_of or self.clock()
        return Cursor(as_of=start.replace(microsecond=0), page=0, query=query)

    def _served(
        self,
        tenant_id: str,
        buyer_id: str,
        context: BuyerContext,
        items: Sequence[Ranked],
        first_rank: int,
        as_of: datetime,
    ) -> list[Recommendation]:
        """The page as served: ranks keep their places, but leads hidden since or just sold exclusively drop out."""
        shown = [item for item in items if not hidden(item.candidate, context)]
        sold = self.candidates.sold_exclusive(tenant_id, [item.candidate.lead_id for item in shown]) if shown else {}
        return [
            self._recommendation(buyer_id, item, first_rank + index, as_of)
            for index, item in enumerate(items)
            if item in shown and item.candidate.lead_id not in sold
        ]

    @staticmethod
    def _recommendation(buyer_id: str, item: Ranked, rank: int, as_of: datetime) -> Recommendation:
        candidate = item.candidate
        score = Score(
            lead_id=candidate.lead_id,
            probability=candidate.probability,
            score=candidate.score,
            grade=candidate.grade,
            fit=candidate.fit,
            engagement=candidate.engagement,
            matrix_grade=candidate.matrix_grade,
            reasons=[Reason.model_validate(r) for r in _reasons(candidate)],
            model_version=candidate.model_version,
        )
        todo = actions(item)
        return Recommendation(
            id=recommendation_id(buyer_id, candidate.lead_id),
            buyer_id=buyer_id,
            lead_id=candidate.lead_id,
            rank=rank,
            score=score,
            insights=insights(item, as_of),
            next_best_actions=[a.action for a in todo],
            actions=todo,
            model_version=candidate.model_version,
            market=candidate.market,
            source=item.source,
            metadata=RecommendationMetadata(
                confidence=item.card.completeness,
                features_used=features_used(item),
                probability=candidate.probability,
                rank_score=item.rank_score,
                fit=round(item.fit.value, 6),
                freshness=round(item.freshness, 6),
                fraud_signal=item.fraud,
                as_of=iso(as_of),
            ),
        )

    def get_recommendation(self, tenant_id: str, rec_id: str) -> Recommendation:
        buyer_id, lead_id = parse_recommendation_id(rec_id)
        found = self.store.recommendation(tenant_id, buyer_id, lead_id)
        if found is None:
            raise NotFound(f"no recommendation {rec_id!r}", {"id": rec_id})
        return found

    def give_feedback(self, tenant_id: str, rec_id: str, feedback: RecommendationFeedback) -> dict[str, Any]:
        buyer_id, lead_id = parse_recommendation_id(rec_id)
        if self.store.recommendation(tenant_id, buyer_id, lead_id) is None:
            raise NotFound(f"no recommendation {rec_id!r}", {"id": rec_id})
        at = iso(self.clock())
        self.store.put_feedback(tenant_id, buyer_id, lead_id, feedback, at)
        return {"id": rec_id, "buyer_id": buyer_id, "lead_id": lead_id, "feedback": feedback, "recorded_at": at}


def _reasons(candidate: Candidate) -> list[Any]:
    import json

    value = json.loads(candidate.reasons_json or "[]")
    return value if isinstance(value, list) else []


def _check_page_size(limit: int, tier: Tier, config: RecommendationConfig) -> None:
    rules = config.rules(tier)
    if limit > rules.max_page_size:
        raise InvalidInput(
            f"limit: the {tier.value} tier pages at most {rules.max_page_size} recommendations",
            [{"field": "limit", "message": f"at most {rules.max_page_size} for this buyer's tier"}],
        )


def _markets_for(context: BuyerContext, config: RecommendationConfig, market: str | None) -> list[str]:
    """The markets the buyer may see (tier and authorisation), narrowed to the one asked for."""
    markets = allowed_markets(context.buyer, config)
    if market is None:
        return markets
    if market not in markets:
        raise Forbidden(
            f"buyer {context.buyer.id!r} may not see leads in {market!r} (authorisation or tier)",
            {"market": market, "allowed_markets": markets},
        )
    return [market]
