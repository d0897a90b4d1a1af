"""The per-process candidate cache: market pages are reused for `seconds`, while what a buyer must never see (their
own purchases, leads sold exclusively to someone else) stays fresh on every request."""

from __future__ import annotations

from datetime import UTC, datetime

from aiqleads.models import Buyer, PurchaseRequest, Tier
from aiqleads.recommendations.candidate_cache import CachedCandidates
from aiqleads.recommendations.card import LeadCard
from aiqleads.recommendations.config import RecommendationConfig
from aiqleads.recommendations.ranking import Candidate
from aiqleads.recommendations.service import RecommendationService
from tests.recommendation_fakes import MemoryCandidates, MemoryMarketplace

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def candidate(lead_id: str, probability: float, market: str = "austin", source: str = "zillow") -> Candidate:
    card = LeadCard(
        source=source, property_type="condo", price=300_000.0, created_at="2026-11-27T00:00:00Z", intent="buy",
        timeline="asap", has_email=True, has_phone=True, has_name=True, disposable_email=False, role_email=False,
        suspicious_phone=False, completeness=0.9,
    )  # fmt: skip
    score = int(probability * 100 + 0.5)
    return Candidate(lead_id, market, probability, score, "B", "2.0.0", card)


def test_a_market_page_is_read_once_per_period() -> None:
    source, clock = MemoryCandidates(), Clock()
    source.add("t", candidate("a", 0.5))
    cache = CachedCandidates(source, seconds=10, clock=clock)
    assert [c.lead_id for c in cache.top("t", "austin", 5)] == ["a"]
    source.add("t", candidate("b", 0.9))
    clock.now += 9.9
    assert [c.lead_id for c in cache.top("t", "austin", 5)] == ["a"]  # still the kept page
    assert source.reads == 1
    clock.now += 0.2
    assert [c.lead_id for c in cache.top("t", "austin", 5)] == ["b", "a"]  # the new lead, once the period ends
    assert source.reads == 2


def test_pages_are_kept_per_tenant_market_and_size() -> None:
    source, clock = MemoryCandidates(), Clock()
    source.add("t", candidate("a", 0.5))
    source.add("t", candidate("b", 0.4, market="boise"))
    source.add("u", candidate("c", 0.3))
    cache = CachedCandidates(source, seconds=10, clock=clock)
    assert [c.lead_id for c in cache.top("t", "austin", 5)] == ["a"]
    assert [c.lead_id for c in cache.top("t", "boise", 5)] == ["b"]
    assert [c.lead_id for c in cache.top("u", "austin", 5)] == ["c"]
    assert cache.top("t", "austin", 0) == []
    assert source.reads == 4


def test_zero_seconds_turns_it_off_and_old_entries_make_room() -> None:
    source, clock = MemoryCandidates(), Clock()
    off = CachedCandidates(source, seconds=0, clock=clock)
    off.top("t", "austin", 5)
    off.top("t", "austin", 5)
    assert source.reads == 2
    small = CachedCandidates(source, seconds=10, max_entries=2, clock=clock)
    for market in ("a", "b", "a", "c", "a", "b"):
        small.top("t", market, 5)
    # a, b, (a kept), c evicts b, (a kept), b again
    assert source.reads == 2 + 4


def test_callers_cannot_change_the_kept_page() -> None:
    source = MemoryCandidates()
    source.add("t", candidate("a", 0.5))
    cache = CachedCandidates(source, seconds=10, clock=Clock())
    cache.top("t", "austin", 5).clear()
    assert [c.lead_id for c in cache.top("t", "austin", 5)] == ["a"]


def test_purchases_and_exclusive_sales_show_at_once_through_the_cache() -> None:
    source, clock = MemoryCandidates(), Clock()
    for index in range(6):
        source.add("t", candidate(f"l{index}", 0.9 - index / 10, source=["zillow", "fsbo", "referral"][index % 3]))
    store = MemoryMarketplace(source)
    store.put_config("t", RecommendationConfig(min_score=0))
    for buyer_id in ("b1", "b2"):
        store.put_buyer("t", Buyer(id=buyer_id, tier=Tier.PRO, authorised_markets=["austin"]))
    service = RecommendationService(store, CachedCandidates(source, seconds=60, clock=clock), clock=lambda: NOW)

    def page(buyer_id: str) -> list[str]:
        return [r.lead_id for r in service.recommend("t", buyer_id, limit=5).data]

    assert page("b1")[:2] == ["l0", "l1"]
    service.record_purchase("t", "b1", PurchaseRequest(lead_id="l0", exclusive=False))
    service.record_purchase("t", "b2", PurchaseRequest(lead_id="l1", exclusive=True))
    reads = source.reads
    assert "l0" not in page("b1")  # bought by this buyer: gone from their list at once
    assert "l1" not in page("b1")  # sold exclusively to b2: gone at once for everyone else
    assert "l1" not in page("b2")
    assert source.reads == reads  # both answers came from the kept market page
