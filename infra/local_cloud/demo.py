"""Demo data for the local cloud: two tenants with API keys, buyers in every tier, market signals and leads.

Tenants and keys go through `aiqleads.tenants.service` as `aiqleads tenants create` / `keys issue` do, so every
demo key is registered in its tier's usage plan in moto's API Gateway, which the local API server checks.
Market signals go in as a market signals file's rows would (`MarketSignalService.load_rows`), for both tenants.

The leads are generated (`aiqleads generate`'s story over the last year, no invalid rows), scored with the
shipped model and stored with their behaviour aggregates, so every API route has something to show straight away.
They carry a history a model can be trained on (`aiqleads.training.dataset`): the leads older than the label window
have their outcomes (conversion items, dated) or count as lost, and each tracked lead's behaviour is its
interaction log (`lead_history`: dated interactions consistent with the generated row), which the totals are
folded from.
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiqleads.composition import default_scorer
from aiqleads.features.behaviour import BEHAVIOUR_COLUMNS, SESSION_GAP, BehaviourTotals
from aiqleads.features.market import market_signals
from aiqleads.leads import trend
from aiqleads.leads.history import HistoryStamp
from aiqleads.markets.service import MarketSignalService
from aiqleads.models import (
    Action,
    Buyer,
    BuyerPreferences,
    Interaction,
    MarketSnapshot,
    Outcome,
    PropertyType,
    ScoreCause,
    Tier,
)
from aiqleads.registry.service import ModelRegistry
from aiqleads.scoring.artifact import default_model_dir
from aiqleads.storage.aggregates import log_item
from aiqleads.storage.api_keys import ApiKeyRepository
from aiqleads.storage.batch import BATCH_WRITE_LIMIT, batch_write_json
from aiqleads.storage.buyers import BuyerRepository
from aiqleads.storage.codec import encode_item
from aiqleads.storage.gateway_keys import GatewayKeyRegistry
from aiqleads.storage.leads import LeadBatchWriter, LeadRepository, conversion_item, lead_key
from aiqleads.storage.markets import MarketSignalStore
from aiqleads.storage.models import ArtifactBucket, ModelRepository
from aiqleads.storage.outbox import Outbox
from aiqleads.storage.tenants import TenantRepository
from aiqleads.tenants.api_keys import Role
from aiqleads.tenants.service import KeyService
from aiqleads.training.dataset import HistoryPolicy
from aiqleads.validation.flat import lead_from_flat
from aiqleads_offline.generate import generate_table, market_snapshots

if TYPE_CHECKING:
    from .cloud import LocalCloud

DEMO_TENANT = "demo"
OTHER_TENANT = "acme-realty"
DEMO_LEADS = 3000
DEMO_SEED = 7
# A year of leads: those older than the label window have outcomes or count as lost, so the tenant can train
# (about 2,200 labelled and 300 conversions; HistoryPolicy's minimum is 1,000 and 120).
DEMO_HISTORY = timedelta(days=365)
LABEL_WINDOW = timedelta(days=HistoryPolicy().label_window_days)
LOST_REPORTED_SHARE = 0.5  # of the leads that did not convert; the others are lost by the window
STEP_MINUTES = 3  # between a session's interactions (under SESSION_GAP)

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
    """Every month's signals since the demo's first lead, for both tenants, through the import path market signal
    files take (rows validated and stored by MarketSignalService): a training set reads each lead's creation
    month. The demo tenant's latest, read back as scoring reads them."""
    service = MarketSignalService(repository)
    first = now - DEMO_HISTORY
    months = sorted({(year, month) for year in range(first.year, now.year + 1) for month in range(1, 13)
                     if (first.year, first.month) <= (year, month) <= (now.year, now.month)})  # fmt: skip
    rows = [snapshot.model_dump() for year, month in months for snapshot in market_snapshots(year, month)]
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
        Outbox(resources.ref("OutboxTable"), cloud.client("dynamodb")),
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
    """A year of generated leads with their history: outcomes as conversion items, the behaviour as the
    interaction log (and the totals it folds to), scored as of now with this month's signals."""
    table = generate_table(count, DEMO_SEED, invalid_rate=0.0, start=now - DEMO_HISTORY, days=DEMO_HISTORY.days)
    scorer = default_scorer()
    dynamodb = cloud.client("dynamodb")
    repository = LeadRepository(cloud.resources.ref("LeadsTable"), dynamodb)
    rng = random.Random(DEMO_SEED)
    lead_items: list[dict[str, Any]] = []
    aggregate_items: list[dict[str, Any]] = []
    ids: list[str] = []
    for row in table.to_pylist():
        lead = lead_from_flat(row)
        created = lead.created_at
        if created is None:  # the generator leaves 2% undated; the demo's history needs every date
            created = now - DEMO_HISTORY * rng.random()
            lead = lead.model_copy(update={"created_at": created})
        history = lead_history(row, created, now, rng)
        if history.outcome is not None:
            outcome, at = history.outcome
            lead_items.append(conversion_item(DEMO_TENANT, lead.id, outcome.value, at, recorded_at=at))
        for number, (action, moment) in enumerate(history.interactions):
            interaction = Interaction(lead_id=lead.id, actor="lead", action=action, timestamp=moment)
            aggregate_items.append(log_item(DEMO_TENANT, interaction, f"demo-{lead.id}-{number:04d}"))
        totals = BehaviourTotals.replay(history.interactions)
        signals = market_signals(snapshots.get(lead.property.market))
        if totals is not None:  # the lead was tracked: its totals, as the events function would hold them now
            aggregate_items.append(
                {"pk": lead_key(DEMO_TENANT, lead.id), "sk": "total", "tenant_id": DEMO_TENANT, "lead_id": lead.id}
                | totals.as_item()
            )
            signals.update(totals.signals(created, now, half_life_days=scorer.spec.half_life_days))
        score = scorer.score_lead(lead, signals)
        lead_items.append(repository.lead_item(DEMO_TENANT, lead))
        # The score with its trend point and its history item (cause ingest), as LeadRepository.create writes them.
        stamp = HistoryStamp(now, ScoreCause.INGEST, "demo")
        recent = trend.extend([], now, score.score)
        lead_items.append(repository.score_item(DEMO_TENANT, lead.property.market, score, lead, recent))
        lead_items.append(repository.history_item(DEMO_TENANT, score, stamp))
        ids.append(lead.id)
    with ThreadPoolExecutor(1) as pool:  # the log on the side: moto takes most of the time, in its own process
        log = pool.submit(_write_fast, dynamodb, cloud.resources.ref("AggregatesTable"), aggregate_items)
        LeadBatchWriter(repository.table_name, dynamodb).write_items(lead_items)
        log.result()
    return ids


def _write_fast(dynamodb: Any, table_name: str, items: list[dict[str, Any]], threads: int = 4) -> None:
    """BatchWriteItem of many small items (the log is ~15 per lead) as ready request bodies from a few threads,
    as the bulk job writes: botocore's serialiser and one call at a time took most of the demo's start-up."""
    requests = [json.dumps({"PutRequest": {"Item": encode_item(item)}}, separators=(",", ":")) for item in items]
    size = max(BATCH_WRITE_LIMIT, -(-len(requests) // threads // BATCH_WRITE_LIMIT) * BATCH_WRITE_LIMIT)
    parts = [requests[start : start + size] for start in range(0, len(requests), size)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda part: batch_write_json(dynamodb, table_name, part), parts))  # re-raises a failure


@dataclass(frozen=True)
class LeadHistory:
    """What happened to one demo lead: its outcome, if known by now, and its interactions up to now."""

    outcome: tuple[Outcome, datetime] | None
    interactions: list[tuple[Action, datetime]]


def lead_history(row: dict[str, Any], created: datetime, now: datetime, rng: random.Random) -> LeadHistory:
    """A generated row's outcome and behaviour as dated events, consistent with the row as seen at its label time:
    replaying the interactions before it gives the row's counts, sessions and minutes to first contact, and the
    row's hours since last activity at that time.

    Converted leads (the generator's `converted`) convert, and half of the others are reported lost, that many
    hours after their last activity; the rest are lost by the label window, their last activity that many hours
    before it closes. An outcome later than now is not known yet (the lead is open), and nothing after now
    happened yet."""
    converted = row["converted"] == "1"
    reported = converted or rng.random() < LOST_REPORTED_SHARE
    window_end = created + LABEL_WINDOW
    tracked = any(row[name] not in (None, "") for name in BEHAVIOUR_COLUMNS)
    if not tracked:
        at = created + timedelta(days=rng.uniform(2, 60))
        outcome = (Outcome.CONVERTED if converted else Outcome.LOST, at) if reported and at <= now else None
        return LeadHistory(outcome, [])
    # At least a minute: an interaction at the label time itself is not before it.
    hours = max(timedelta(hours=float(row["hours_since_last_activity"] or 0)), timedelta(minutes=1))
    events = _behaviour(row, created, None if reported else window_end - hours, rng)
    outcome = None
    if reported:
        at = max(moment for _, moment in events) + hours
        if at <= now:
            outcome = (Outcome.CONVERTED if converted else Outcome.LOST, at)
    return LeadHistory(outcome, [(action, moment) for action, moment in events if moment <= now])


def _behaviour(
    row: dict[str, Any], created: datetime, last: datetime | None, rng: random.Random
) -> list[tuple[Action, datetime]]:
    """The row's interactions in its `sessions` sessions: the first at the first contact (if any), the last
    ending at `last` when given (else a day or so apart), events in a session minutes apart."""

    def count(name: str) -> int:
        return int(float(row[name] or 0))

    sessions = max(1, count("sessions"))
    # Each session opens with a view (the generator gives at least as many views as sessions), the rest anywhere.
    buckets: list[list[Action]] = [[Action.VIEW] for _ in range(sessions)]
    extra = [Action.VIEW] * (count("views") - sessions)
    for action, name in ((Action.CLICK, "clicks"), (Action.INQUIRY, "inquiries"), (Action.MESSAGE, "messages"),
                         (Action.SCHEDULE, "schedules")):  # fmt: skip
        extra += [action] * count(name)
    for action in extra:
        buckets[rng.randrange(sessions)].append(action)
    minutes = row["minutes_to_first_contact"]
    if minutes not in (None, ""):
        first = created + timedelta(minutes=float(minutes))
        buckets[0].insert(0, Action.CONTACT)  # the first session starts with the first contact
    else:
        first = created + timedelta(minutes=rng.uniform(1, 30))
    lengths = [timedelta(minutes=STEP_MINUTES * (len(bucket) - 1)) for bucket in buckets]
    starts = [first]
    if sessions > 1:
        earliest = first + lengths[0] + SESSION_GAP
        latest = None if last is None else last - lengths[-1]
        if latest is not None and latest - earliest > (SESSION_GAP + max(lengths)) * sessions:
            middle = sorted(earliest + (latest - earliest) * rng.random() for _ in range(sessions - 2))
            starts += [*middle, latest]
        else:  # free, or too little time before `last`: a day or so apart
            starts += [earliest + timedelta(hours=rng.expovariate(1 / 20)) for _ in range(sessions - 1)]
            starts.sort()
        for i in range(1, sessions):  # keep sessions apart even where the draws came close
            starts[i] = max(starts[i], starts[i - 1] + lengths[i - 1] + SESSION_GAP + timedelta(minutes=1))
    return [
        (action, start + timedelta(minutes=STEP_MINUTES * i))
        for start, bucket in zip(starts, buckets, strict=True)
        for i, action in enumerate(bucket)
    ]
