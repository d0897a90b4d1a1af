"""In-memory stand-ins for the recommendation stores (same interfaces as storage/recommendations.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from aiqleads.errors import Conflict
from aiqleads.models import Buyer, Recommendation, RecommendationFeedback
from aiqleads.recommendations.config import RecommendationConfig
from aiqleads.recommendations.ranking import BuyerContext, Candidate, Purchase


@dataclass
class MemoryCandidates:
    by_id: dict[tuple[str, str], Candidate] = field(default_factory=dict)
    reads: int = 0

    def add(self, tenant_id: str, candidate: Candidate) -> None:
        self.by_id[tenant_id, candidate.lead_id] = candidate

    def top(self, tenant_id: str, market: str, limit: int) -> list[Candidate]:
        self.reads += 1
        found = [c for (t, _), c in self.by_id.items() if t == tenant_id and c.market == market]
        found.sort(key=lambda c: (c.score, c.lead_id), reverse=True)  # the ScoreIndex order
        return found[:limit]

    def candidate(self, tenant_id: str, lead_id: str) -> Candidate | None:
        return self.by_id.get((tenant_id, lead_id))

    def sold_exclusive(self, tenant_id: str, lead_ids: Sequence[str]) -> dict[str, str]:
        found = (self.by_id.get((tenant_id, i)) for i in lead_ids)
        return {c.lead_id: c.sold_exclusive_at for c in found if c is not None and c.sold_exclusive_at}


@dataclass
class MemoryMarketplace:
    candidates: MemoryCandidates
    buyers: dict[tuple[str, str], Buyer] = field(default_factory=dict)
    purchases: dict[tuple[str, str], list[Purchase]] = field(default_factory=dict)
    configs: dict[str, RecommendationConfig] = field(default_factory=dict)
    served: dict[tuple[str, str, str], Recommendation] = field(default_factory=dict)
    feedback: list[tuple[str, str, str, RecommendationFeedback, str]] = field(default_factory=list)

    def buyer_context(self, tenant_id: str, buyer_id: str) -> BuyerContext | None:
        buyer = self.buyers.get((tenant_id, buyer_id))
        return None if buyer is None else BuyerContext(buyer, tuple(self.purchases.get((tenant_id, buyer_id), [])))

    def put_buyer(self, tenant_id: str, buyer: Buyer) -> None:
        self.buyers[tenant_id, buyer.id] = buyer

    def config(self, tenant_id: str) -> RecommendationConfig:
        return self.configs.get(tenant_id) or RecommendationConfig()

    def put_config(self, tenant_id: str, config: RecommendationConfig) -> None:
        self.configs[tenant_id] = config

    def record_purchase(self, tenant_id: str, buyer_id: str, purchase: Purchase) -> None:
        candidate = self.candidates.by_id[tenant_id, purchase.lead_id]
        if candidate.sold_exclusive_at:
            raise Conflict("sold exclusively")
        others = [
            b for (t, b), ps in self.purchases.items() if t == tenant_id for p in ps if p.lead_id == purchase.lead_id
        ]
        if purchase.exclusive and others:
            raise Conflict("already sold")
        self.purchases.setdefault((tenant_id, buyer_id), []).append(purchase)
        if purchase.exclusive:
            self.candidates.add(tenant_id, replace(candidate, sold_exclusive_at=purchase.purchased_at))

    def log(self, tenant_id: str, recommendations: Sequence[Recommendation]) -> None:
        for rec in recommendations:
            self.served[tenant_id, rec.buyer_id, rec.lead_id] = rec

    def recommendation(self, tenant_id: str, buyer_id: str, lead_id: str) -> Recommendation | None:
        return self.served.get((tenant_id, buyer_id, lead_id))

    def put_feedback(
        self, tenant_id: str, buyer_id: str, lead_id: str, feedback: RecommendationFeedback, at: str
    ) -> None:
        self.feedback.append((tenant_id, buyer_id, lead_id, feedback, at))
