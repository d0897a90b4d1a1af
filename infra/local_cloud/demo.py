"""Demo data for the local cloud: two tenants with API keys, buyers in every tier, market signals and leads.

Market signals go in as a market signals file's rows would (`MarketSignalService.load_rows`), for both tenants.

The leads are generated (`aiqleads generate`'s story, recent dates, no invalid rows), scored with the shipped
model and stored with their behaviour aggregates, so every API route has something to show straight away.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiqleads.composition import default_scorer
from aiqleads.features.behaviour import BEHAVIOUR_COLUMNS, BehaviourTotals
from aiqleads.features.market import market_signals
from aiqleads.markets.service import MarketSignalService
from aiqleads.models import Buyer, BuyerPreferences, MarketSnapshot, PropertyType, Tier
from aiqleads.storage.api_keys import ApiKeyRepository
from aiqleads.storage.batch import batch_put
from aiqleads.storage.buyers import BuyerRepository
from aiqleads.storage.leads import LeadRepository, lead_key
from aiqleads.storage.markets import MarketSignalRepository
from aiqleads.tenants.api_keys import ApiKeyRecord
from aiqleads.validation.flat import lead_from_flat
from aiqleads_offline.generate import generate_table, market_snapshots

if TYPE_CHECKING:
    from .cloud import LocalCloud

DEMO_TENANT = "demo"
OTHER_TENANT = "acme-realty"
DEMO_LEADS = 3000
DEMO_SEED = 7

DEMO_BUYERS = (
    Buyer(id="buyer-basic-vegas", name="Rosa Alvarez (agent)", tier=Tier.BASIC, authorised_markets=["las-vegas"],
          preferences=BuyerPreferences(property_types=[PropertyType.SINGLE_FAMILY, PropertyType.CONDO],
                                       price_max=500_000, markets=["las-vegas"])),
    Buyer(id="buyer-basic-phoenix", name="Dan Okafor (agent)", tier=Tier.BASIC, authorised_markets=["phoenix"],
          preferences=BuyerPreferences(property_types=[PropertyType.SINGLE_FAMILY], markets=["phoenix"])),
    Buyer(id="buyer-pro-texas", name="Lone Star Homes (broker)", tier=Tier.PRO,
          authorised_markets=["dallas-fort-worth", "austin"],
          preferences=BuyerPreferences(price_min=250_000, price_max=900_000, markets=["austin", "dallas-fort-worth"])),
    Buyer(id="buyer-pro-southwest", name="Desert Realty (broker)", tier=Tier.PRO,
          authorised_markets=["las-vegas", "phoenix", "tucson"],
          preferences=BuyerPreferences(property_types=[PropertyType.TOWNHOUSE, PropertyType.CONDO])),
    Buyer(id="buyer-enterprise-investor", name="Keystone Capital (investor)", tier=Tier.ENTERPRISE,
          authorised_markets=["las-vegas", "dallas-fort-worth", "austin", "phoenix", "boise", "tucson", "reno",
                              "el-paso"],
          preferences=BuyerPreferences(property_types=[PropertyType.MULTI_FAMILY, PropertyType.LAND])),
    Buyer(id="buyer-enterprise-brokerage", name="Summit Brokerage", tier=Tier.ENTERPRISE,
          authorised_markets=["las-vegas", "dallas-fort-worth", "austin", "phoenix"]),
)  # fmt: skip


def seed_demo(cloud: LocalCloud, *, leads: int = DEMO_LEADS, now: datetime | None = None) -> dict[str, Any]:
    """Create the demo data; returns what `.aiqleads/local.json` should list about it."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    resources = cloud.resources
    dynamodb = cloud.client("dynamodb")

    keys = ApiKeyRepository(resources.ref("ApiKeysTable"), dynamodb)
    api_keys: dict[str, str] = {}
    for tier in Tier:
        key, record = ApiKeyRecord.issue(DEMO_TENANT, tier, name=f"demo {tier.value} key")
        keys.put(record)
        api_keys[tier.value] = key
    other_key, other_record = ApiKeyRecord.issue(OTHER_TENANT, Tier.PRO, name="second tenant (isolation demo)")
    keys.put(other_record)

    BuyerRepository(resources.ref("BuyersTable"), dynamodb).put_many(DEMO_TENANT, DEMO_BUYERS)

    snapshots = _load_market_signals(MarketSignalRepository(resources.ref("MarketSignalsTable"), dynamodb), now)

    lead_ids = _seed_leads(cloud, leads, now, snapshots)
    return {
        "tenant_id": DEMO_TENANT,
        "api_key": api_keys[Tier.ENTERPRISE.value],
        "api_keys": api_keys,
        "other_tenant_id": OTHER_TENANT,
        "other_tenant_api_key": other_key,
        "buyer_ids": [buyer.id for buyer in DEMO_BUYERS],
        "markets": sorted(snapshots),
        "demo_lead_ids": lead_ids[:5],
        "demo_leads": len(lead_ids),
    }


def _load_market_signals(repository: MarketSignalRepository, now: datetime) -> dict[str, MarketSnapshot]:
    """This month's signals for both tenants, through the import path market signal files take (rows validated
    and stored by MarketSignalService); the demo tenant's, read back as scoring reads them."""
    service = MarketSignalService(repository)
    rows = [snapshot.model_dump() for snapshot in market_snapshots(now.year, now.month)]
    for tenant in (DEMO_TENANT, OTHER_TENANT):
        loaded = service.load_rows(tenant, rows)
        if loaded.errors:
            raise RuntimeError(f"demo market signals rejected: {loaded.errors[:3]}")
    found = {market: repository.latest(DEMO_TENANT, market) for market in sorted(loaded.latest)}
    return {market: snapshot for market, snapshot in found.items() if snapshot is not None}


def _seed_leads(cloud: LocalCloud, count: int, now: datetime, snapshots: dict[str, Any]) -> list[str]:
    table = generate_table(count, DEMO_SEED, invalid_rate=0.0, start=now - timedelta(days=45), days=45)
    scorer = default_scorer()
    repository = LeadRepository(cloud.resources.ref("LeadsTable"), cloud.client("dynamodb"))
    lead_items: list[dict[str, Any]] = []
    aggregate_items: list[dict[str, Any]] = []
    ids: list[str] = []
    for row in table.to_pylist():
        lead = lead_from_flat(row)
        created = lead.created_at or now
        totals = None
        if any(row[name] not in (None, "") for name in BEHAVIOUR_COLUMNS):  # the lead was tracked
            totals = BehaviourTotals.from_signals(row, created, now)
            aggregate_items.append(
                {"pk": lead_key(DEMO_TENANT, lead.id), "sk": "total", "tenant_id": DEMO_TENANT, "lead_id": lead.id}
                | totals.as_item()
            )
        signals = market_signals(snapshots.get(lead.property.market))
        if totals is not None:
            signals.update(totals.signals(created, now))
        score = scorer.score_lead(lead, signals)
        lead_items.append(repository.lead_item(DEMO_TENANT, lead))
        lead_items.append(repository.score_item(DEMO_TENANT, lead.property.market, score, lead))
        ids.append(lead.id)
    repository.write_items(lead_items)
    batch_put(cloud.client("dynamodb"), cloud.resources.ref("AggregatesTable"), aggregate_items)
    return ids
