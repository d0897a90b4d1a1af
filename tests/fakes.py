"""In-memory stand-ins for the repositories, for unit tests of the domain services and the API routes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiqleads.errors import Conflict
from aiqleads.features.behaviour import BehaviourTotals
from aiqleads.leads import trend
from aiqleads.leads.history import HistoryStamp
from aiqleads.leads.service import LeadService
from aiqleads.models import Action, Conversion, Interaction, Lead, MarketSnapshot, Score
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.storage.jobs import StoredJob
from aiqleads.storage.leads import HISTORY_PREFIX, LeadRecord, history_entry, history_item
from aiqleads.tenants.query_budget import Bucket, CostBudget, QueryBudgets


@dataclass
class MemoryLeads:
    records: dict[tuple[str, str], LeadRecord] = field(default_factory=dict)
    history_items: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)  # by sk
    outbox: MemoryEvents = field(default_factory=lambda: MemoryEvents())  # what the writes announced

    def _keep(self, tenant_id: str, score: Score, stamp: HistoryStamp | None) -> tuple[trend.Point, ...]:
        record = self.records.get((tenant_id, score.lead_id))
        recent = record.recent_scores if record is not None else ()
        if stamp is None:
            return recent
        item = history_item(tenant_id, score, stamp)
        self.history_items.setdefault((tenant_id, score.lead_id), {})[item["sk"]] = item
        return tuple(trend.extend(recent, stamp.at, score.score))

    def create(
        self,
        tenant_id: str,
        lead: Lead,
        score: Score,
        stamp: HistoryStamp | None = None,
        announce: DomainEvent | None = None,
    ) -> None:
        if (tenant_id, lead.id) in self.records:
            raise Conflict(f"lead {lead.id!r} already exists", {"id": lead.id})
        recent = self._keep(tenant_id, score, stamp)
        self.records[tenant_id, lead.id] = LeadRecord(lead=lead, score=score, conversions=[], recent_scores=recent)
        if announce is not None:
            self.outbox.publish(announce)

    def get(self, tenant_id: str, lead_id: str, *, conversions: bool = True) -> LeadRecord | None:
        return self.records.get((tenant_id, lead_id))

    def put_score(
        self,
        tenant_id: str,
        market: str,
        score: Score,
        stamp: HistoryStamp | None = None,
        recent: Any = (),
        announce: DomainEvent | None = None,
    ) -> None:
        record = self.records[tenant_id, score.lead_id]
        points = self._keep(tenant_id, score, stamp)
        self.records[tenant_id, score.lead_id] = LeadRecord(record.lead, score, record.conversions,
                                                            recent_scores=points)  # fmt: skip
        if announce is not None:
            self.outbox.publish(announce)

    def history(
        self, tenant_id: str, lead_id: str, limit: int, after: str | None = None
    ) -> tuple[list[tuple[str, Any]], str | None] | None:
        if (tenant_id, lead_id) not in self.records:
            return None
        items = sorted(self.history_items.get((tenant_id, lead_id), {}).values(), key=lambda i: i["sk"], reverse=True)
        items = [i for i in items if i["sk"].startswith(HISTORY_PREFIX) and (after is None or i["sk"] < after)]
        page = items[:limit]
        return [(i["sk"], history_entry(i)) for i in page], (page[-1]["sk"] if len(items) > limit else None)

    def put_conversion(self, tenant_id: str, conversion: Conversion) -> None:
        self.records[tenant_id, conversion.lead_id].conversions.append(conversion)

    def exists(self, tenant_id: str, lead_ids: Sequence[str]) -> set[str]:
        return {i for i in lead_ids if (tenant_id, i) in self.records}

    def recent(
        self, tenant_id: str, limit: int, start_after: dict[str, str] | None = None
    ) -> tuple[list[tuple[LeadRecord, dict[str, str]]], dict[str, str] | None]:
        """Newest first by (created_at, id), like TenantIndex."""
        positions = sorted(
            (
                {"pk": f"{t}#{i}", "sk": "lead", "gsi2pk": t, "gsi2sk": f"{r.lead.created_at:%Y-%m-%dT%H:%M:%SZ}#{i}"}
                for (t, i), r in self.records.items()
                if t == tenant_id
            ),
            key=lambda p: p["gsi2sk"],
            reverse=True,
        )
        if start_after is not None:
            positions = [p for p in positions if p["gsi2sk"] < start_after["gsi2sk"]]
        page = positions[:limit]
        records = [(self.records[tenant_id, p["pk"].split("#", 1)[1]], p) for p in page]
        return records, (page[-1] if len(positions) > limit else None)


@dataclass
class MemoryAggregates:
    """Totals by the same rules as AggregatesTable (`BehaviourTotals.apply`), and the log, by event id."""

    totals: dict[tuple[str, str], BehaviourTotals] = field(default_factory=dict)
    log: dict[tuple[str, str], dict[str, Interaction]] = field(default_factory=dict)

    def get(self, tenant_id: str, lead_id: str) -> BehaviourTotals | None:
        return self.totals.get((tenant_id, lead_id))

    def record(self, tenant_id: str, interaction: Interaction, event_id: str) -> BehaviourTotals:
        self.log.setdefault((tenant_id, interaction.lead_id), {})[event_id] = interaction
        current = self.totals.get((tenant_id, interaction.lead_id), BehaviourTotals())
        updated = current.apply(interaction.action, interaction.timestamp)
        self.totals[tenant_id, interaction.lead_id] = updated
        return updated

    def before(self, tenant_id: str, lead_id: str, moment: datetime) -> list[tuple[Action, datetime]]:
        logged = self.log.get((tenant_id, lead_id), {}).values()
        return sorted(((i.action, i.timestamp) for i in logged if i.timestamp < moment), key=lambda pair: pair[1])


@dataclass
class MemoryMarkets:
    """Snapshots by (tenant, market, period), as MarketSignalsTable keys them."""

    snapshots: dict[tuple[str, str, str], MarketSnapshot] = field(default_factory=dict)

    def put(self, tenant_id: str, snapshot: MarketSnapshot) -> bool:
        key = (tenant_id, snapshot.market, snapshot.period)
        created = key not in self.snapshots
        self.snapshots[key] = snapshot
        return created

    def put_many(self, tenant_id: str, snapshots: Sequence[MarketSnapshot]) -> int:
        for snapshot in snapshots:
            self.put(tenant_id, snapshot)
        return len(snapshots)

    def get(self, tenant_id: str, market: str, period: str) -> MarketSnapshot | None:
        return self.snapshots.get((tenant_id, market, period))

    def latest(self, tenant_id: str, market: str) -> MarketSnapshot | None:
        periods = [k for k in self.snapshots if k[:2] == (tenant_id, market)]
        return self.snapshots[max(periods)] if periods else None

    def history(self, tenant_id: str, market: str) -> list[MarketSnapshot]:
        return [self.snapshots[k] for k in sorted(self.snapshots) if k[:2] == (tenant_id, market)]


@dataclass
class MemoryEvents:
    published: list[DomainEvent] = field(default_factory=list)

    def publish(self, event: DomainEvent) -> None:
        self.published.append(event)

    def publish_many(self, events: Sequence[DomainEvent]) -> None:
        self.published.extend(events)


@dataclass
class MemoryQueue:
    sent: list[dict[str, Any]] = field(default_factory=list)

    def send(self, body: dict[str, Any], delay_seconds: int = 0, attributes: dict[str, str] | None = None) -> str:
        self.sent.append(body)
        return f"m-{len(self.sent)}"

    def send_many(self, bodies: Sequence[dict[str, Any]]) -> None:
        self.sent.extend(bodies)


def memory_lead_service() -> LeadService:
    """The lead service over in-memory stores, with the shipped model."""
    from aiqleads.composition import default_scorer

    return LeadService(
        leads=MemoryLeads(),
        aggregates=MemoryAggregates(),
        markets=MemoryMarkets(),
        scorer=lambda tenant_id: default_scorer(),
        interactions_queue=MemoryQueue(),
    )


class MemoryJobs:
    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], StoredJob] = {}

    def get(self, tenant_id: str, job_id: str) -> StoredJob | None:
        return self.jobs.get((tenant_id, job_id))

    def create(self, tenant_id: str, job_id: str, record: dict[str, Any], expires_at: int) -> bool:
        self.jobs[tenant_id, job_id] = StoredJob(tenant_id, job_id, "running", record)
        return True

    def acquire(self, tenant_id: str, job_id: str, owner: str, lease_seconds: float) -> StoredJob | None:
        job = self.jobs.get((tenant_id, job_id))
        return job if job is not None and job.status == "running" else None

    def save(self, tenant_id: str, job_id: str, owner: str, record: dict[str, Any], *, status: str = "running",
             release: bool = False, expires_at: int | None = None) -> None:  # fmt: skip
        self.jobs[tenant_id, job_id] = StoredJob(tenant_id, job_id, status, record)


class MemoryBuckets:
    """GraphQL cost buckets in memory (tenants.query_budget.BucketStore), with the same compare-and-set."""

    def __init__(self) -> None:
        self.buckets: dict[str, Bucket] = {}

    def get(self, key: str) -> Bucket | None:
        return self.buckets.get(key)

    def replace(self, key: str, bucket: Bucket, expected: Bucket | None, expires_at: int) -> bool:
        if self.buckets.get(key) != expected:
            return False
        self.buckets[key] = bucket
        return True


# The template's sizes (Mappings.TierQueryCost), as the API function reads them.
COST_BUDGETS = {
    "basic": CostBudget.model_validate({"maximumAvailable": 1000, "restoreRate": 50}),
    "pro": CostBudget.model_validate({"maximumAvailable": 2000, "restoreRate": 100}),
    "enterprise": CostBudget.model_validate({"maximumAvailable": 5000, "restoreRate": 250}),
}


def override_query_budgets(app: Any, clock: Any = None) -> QueryBudgets:
    """The API's GraphQL cost buckets in memory (and on `clock`, when given) for in-process tests."""
    from aiqleads.api import context

    budgets = QueryBudgets(MemoryBuckets(), clock) if clock else QueryBudgets(MemoryBuckets())
    app.dependency_overrides[context.query_budgets] = lambda: budgets
    app.dependency_overrides[context.cost_budgets] = lambda: COST_BUDGETS
    return budgets
