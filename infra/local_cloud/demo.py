"""Demo data for the local cloud: two tenants with API keys, buyers in every tier, market signals and leads.

Tenants and keys go through `aiqleads.tenants.service` as `aiqleads tenants create` / `keys issue` do, so every
demo key is registered in its tier's usage plan in moto's API Gateway, which the local API server checks.
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
from aiqleads.registry.service import ModelRegistry
from aiqleads.scoring.artifact import default_model_dir
from aiqleads.storage.api_keys import ApiKeyRepository
from aiqleads.storage.batch import batch_put
from aiqleads.storage.buyers import BuyerRepository
from aiqleads.storage.gateway_keys import GatewayKeyRegistry
from aiqleads.storage.leads import LeadBatchWriter, LeadRepository, lead_key
from aiqleads.storage.markets import MarketSignalStore
from aiqleads.storage.messaging import EventPublisher
from aiqleads.storage.models import ArtifactBucket, ModelRepository
from aiqleads.storage.tenants import TenantRepository
from aiqleads.tenants.api_keys import Role
from aiqleads.tenants.service import KeyService
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

    keys = key_service(cloud)
    keys.ensure_tenant(DEMO_TENANT, "Demo Realty")
    keys.ensure_tenant(OTHER_TENANT, "Acme Realty (isolation demo)")
    api_keys = {tier.value: keys.issue(DEMO_TENANT, tier, name=f"demo {tier.value} key").api_key for tier in Tier}
    other_key = keys.issue(OTHER_TENANT, Tier.PRO, name="second tenant (isolation demo)").api_key
    admin_key = keys.issue(DEMO_TENANT, Tier.ENTERPRISE, Role.ADMIN, name="demo admin key").api_key
    other_admin_key = keys.issue(OTHER_TENANT, Tier.PRO, Role.ADMIN, name="second tenant admin key").api_key

    BuyerRepository(resources.ref("BuyersTable"), dynamodb).put_many(DEMO_TENANT, DEMO_BUYERS)
    default_model = register_default_model(cloud)

    snapshots = _load_market_signals(MarketSignalStore(resources.ref("MarketSignalsTable"), dynamodb), now)

    lead_ids = _seed_leads(cloud, leads, now, snapshots)
    return {
        "tenant_id": DEMO_TENANT,
        "api_key": api_keys[Tier.ENTERPRISE.value],
        "api_keys": api_keys,
        "other_tenant_id": OTHER_TENANT,
        "other_tenant_api_key": other_key,
        "admin_api_key": admin_key,
        "other_tenant_admin_api_key": other_admin_key,
        "buyer_ids": [buyer.id for buyer in DEMO_BUYERS],
        "markets": sorted(snapshots),
        "demo_lead_ids": lead_ids[:5],
        "demo_leads": len(lead_ids),
        "default_model_version": default_model,
    }


def _load_market_signals(repository: MarketSignalStore, now: datetime) -> dict[str, MarketSnapshot]:
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


def model_registry(cloud: LocalCloud) -> ModelRegistry:
    """The model registry on the local cloud's ModelsTable and models bucket (what the API function holds)."""
    resources = cloud.resources
    return ModelRegistry(
        ModelRepository(resources.ref("ModelsTable"), cloud.client("dynamodb")),
        ArtifactBucket(resources.ref("ModelsBucket"), cloud.client("s3")),
        EventPublisher(resources.ref("DomainEventsTopic"), cloud.client("sns")),
    )


def register_default_model(cloud: LocalCloud) -> str:
    """The shipped model as the global default at start, as the API would on its first models request."""
    return model_registry(cloud).ensure_global_default(default_model_dir()).version


def key_service(cloud: LocalCloud) -> KeyService:
    """The onboarding service on the local cloud's tables and moto's API Gateway (what `aiqleads keys` uses)."""
    resources, dynamodb = cloud.resources, cloud.client("dynamodb")
    return KeyService(
        TenantRepository(resources.ref("TenantsTable"), dynamodb),
        ApiKeyRepository(resources.ref("ApiKeysTable"), dynamodb),
        GatewayKeyRegistry(
            {Tier(tier): plan for tier, plan in resources.usage_plans.items()}, cloud.client("apigateway")
        ),
    )


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
    LeadBatchWriter(repository.table_name, cloud.client("dynamodb")).write_items(lead_items)
    batch_put(cloud.client("dynamodb"), cloud.resources.ref("AggregatesTable"), aggregate_items)
    return ids
