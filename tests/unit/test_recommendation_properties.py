"""Ranking properties (hypothesis): allowed markets only, never a bought or exclusively sold lead, diversity caps
on every page, and pagination that is stable and complete while scores do not change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiqleads.models import Buyer, BuyerPreferences, PropertyType, Tier
from aiqleads.recommendations.card import LeadCard
from aiqleads.recommendations.config import Diversity, RecommendationConfig
from aiqleads.recommendations.engine import cap
from aiqleads.recommendations.ranking import Candidate, Purchase, allowed_markets
from aiqleads.recommendations.service import RecommendationService
from tests.recommendation_fakes import MemoryCandidates, MemoryMarketplace

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
MARKETS = ["las-vegas", "austin", "phoenix", "boise"]
SOURCES = ["zillow", "fsbo", "craigslist", "referral"]
TYPES = [t.value for t in PropertyType]


def stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


lead_strategy = st.fixed_dictionaries(
    {
        "market": st.sampled_from(MARKETS),
        "source": st.sampled_from(SOURCES),
        "probability": st.floats(0, 1),
        "type": st.sampled_from(TYPES),
        "price": st.floats(50_000, 2_000_000),
        "age_days": st.integers(0, 90),
        "disposable": st.booleans(),
        "phone": st.booleans(),
        "sold": st.integers(0, 9),  # 0: sold exclusively
        "bought": st.integers(0, 9),  # 0: this buyer bought it
    }
)


def build(leads: list[dict], tier: Tier, authorised: list[str], diversity: Diversity, score_min: int):
    candidates = MemoryCandidates()
    store = MemoryMarketplace(candidates)
    purchases = []
    for index, spec in enumerate(leads):
        lead_id = f"l{index:03d}"
        card = LeadCard(
            source=spec["source"], property_type=spec["type"], price=spec["price"],
            created_at=stamp(NOW - timedelta(days=spec["age_days"])), intent="buy", timeline="asap",
            has_email=True, has_phone=spec["phone"], has_name=True, disposable_email=spec["disposable"],
            role_email=False, suspicious_phone=False, completeness=0.7,
        )  # fmt: skip
        probability = spec["probability"]
        candidates.add("t", Candidate(
            lead_id=lead_id, market=spec["market"], probability=probability, score=int(probability * 100 + 0.5),
            grade="B", model_version="2.0.0", card=card,
            sold_exclusive_at=stamp(NOW - timedelta(days=1)) if spec["sold"] == 0 else None,
        ))  # fmt: skip
        if spec["bought"] == 0:
            purchases.append(Purchase(lead_id, spec["market"], spec["type"], spec["source"], False, stamp(NOW)))
    buyer = Buyer(
        id="b1", tier=tier, authorised_markets=authorised,
        preferences=BuyerPreferences(property_types=[PropertyType.CONDO], price_max=600_000),
    )  # fmt: skip
    store.put_buyer("t", buyer)
    store.purchases["t", "b1"] = purchases
    store.put_config("t", RecommendationConfig(diversity=diversity, min_score=0))
    service = RecommendationService(store, candidates, clock=lambda: NOW)
    return service, store, candidates, buyer, {p.lead_id for p in purchases}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    leads=st.lists(lead_strategy, max_size=70),
    tier=st.sampled_from(list(Tier)),
    authorised=st.lists(st.sampled_from(MARKETS), min_size=1, max_size=4, unique=True),
    limit=st.integers(1, 12),
    source_share=st.sampled_from([0.25, 0.4, 0.5, 1.0]),
    market_share=st.sampled_from([0.3, 0.5, 0.6, 1.0]),
    score_min=st.sampled_from([0, 0, 30]),
)
def test_pages_obey_the_rules_and_cover_the_pool(
    leads: list[dict], tier: Tier, authorised: list[str], limit: int, source_share: float, market_share: float,
    score_min: int,
) -> None:  # fmt: skip
    diversity = Diversity(max_source_share=source_share, max_market_share=market_share)
    service, store, candidates, buyer, bought = build(leads, tier, authorised, diversity, score_min)
    config = store.config("t")
    allowed = set(allowed_markets(buyer, config))
    pages: list[list] = []
    cursor = None
    for _ in range(200):
        page = service.recommend("t", "b1", limit=limit, cursor=cursor, score_min=score_min)
        again = service.recommend("t", "b1", limit=limit, cursor=cursor, score_min=score_min)
        assert [r.lead_id for r in again.data] == [r.lead_id for r in page.data]  # stable
        pages.append(page.data)
        assert len(page.data) == limit or page.meta.next_cursor is None  # only the last page is short
        cursor = page.meta.next_cursor
        if cursor is None:
            break
    shown = [rec for page in pages for rec in page]
    ids = [rec.lead_id for rec in shown]
    assert len(ids) == len(set(ids))  # no duplicates across pages
    for rec in shown:
        candidate = candidates.by_id["t", rec.lead_id]
        assert candidate.market in allowed
        assert rec.lead_id not in bought
        assert candidate.sold_exclusive_at is None
        assert rec.score.score >= score_min
        assert rec.metadata is not None
        assert rec.metadata.fraud_signal < config.fraud.threshold
    # complete: every eligible lead of the candidate pool is on exactly one page
    eligible = {
        c.lead_id
        for (_, _), c in candidates.by_id.items()
        if c.market in allowed and c.lead_id not in bought and c.sold_exclusive_at is None and c.score >= score_min
        and (0.6 * c.card.disposable_email + 0.1 * (not c.card.has_phone)) < config.fraud.threshold  # type: ignore[union-attr]
    }  # fmt: skip
    assert set(ids) == eligible
    # ranks are consecutive across pages
    assert [rec.rank for rec in shown] == list(range(1, len(shown) + 1))
    # caps hold on every page, unless nothing outside the over-represented group was left to take its place
    remaining = list(shown)
    for page in pages:
        rest = remaining[len(page) :]
        for attribute, share in (("source", source_share), ("market", market_share)):
            counts: dict[str, int] = {}
            for rec in page:
                counts[getattr(rec, attribute)] = counts.get(getattr(rec, attribute), 0) + 1
            for group, count in counts.items():
                if count > cap(share, limit):
                    assert all(getattr(rec, attribute) == group for rec in rest) or all(
                        counts.get(getattr(rec, attribute), 0) >= cap(share, limit) for rec in rest
                    ), (attribute, group, count)
        remaining = rest


def test_a_purchase_after_page_one_does_not_shift_page_two() -> None:
    leads = [
        {"market": "austin", "source": SOURCES[i % 4], "probability": 0.9 - i / 100, "type": "condo",
         "price": 300_000.0, "age_days": 1, "disposable": False, "phone": True, "sold": 5, "bought": 5}
        for i in range(30)
    ]  # fmt: skip
    service, store, _, _, _ = build(leads, Tier.ENTERPRISE, ["austin"], Diversity(), 0)
    first = service.recommend("t", "b1", limit=10)
    expected = service.recommend("t", "b1", limit=10, cursor=first.meta.next_cursor)
    later = NOW + timedelta(minutes=5)
    service.clock = lambda: later
    store.record_purchase("t", "b1", Purchase(first.data[0].lead_id, "austin", "condo", "zillow", True, stamp(later)))
    second = service.recommend("t", "b1", limit=10, cursor=first.meta.next_cursor)
    assert [r.lead_id for r in second.data] == [r.lead_id for r in expected.data]
    fresh = service.recommend("t", "b1", limit=10)
    assert first.data[0].lead_id not in {r.lead_id for r in fresh.data}
