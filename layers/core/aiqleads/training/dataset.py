"""A tenant's training set, built from its stored history as of a moment, with nothing a lead's outcome revealed.

One row per labelled lead, in the flat form bulk files and `aiqleads train` read (the lead columns of
`validation.flat`, its `created_at`, the behaviour and market inputs the lead spec reads) plus the label
`converted` (1/0):

- **Label.** A lead's latest outcome (`latest_outcomes`: converted 1, lost 0), whoever reported it (the API or a
  bulk upload's `outcome` column). A lead with none that is older than the label window counts as lost; a younger
  one is left out (unlabelled: it may still convert). Only what was known at `now` counts: outcomes recorded
  later and leads created later are left out, so the same `now` gives the same rows.
- **Label time.** The outcome's `at`, or created_at + the window for a lead lost by the window. (An upload that
  gave no `outcome_at` dated its outcomes by the upload: the latest they can have happened, so its leads' rows
  may hold behaviour from after the outcome. Such exports rarely have a log: see below.)
- **No leakage.** A lead's fields are fixed at creation. Its behaviour is rebuilt from the interaction log
  (AggregatesTable's `interaction#` items, which the events function writes beside the running totals) by replaying
  the interactions strictly before the label time through the events function's own rules
  (`BehaviourTotals.apply`), with the signals computed as at the label time; a lead with no interaction before it
  (never tracked, e.g. CRM history imported in bulk, or first seen after its outcome) has its behaviour missing,
  as a new lead has when it is scored. Market signals are the snapshot of the lead's market for its creation
  month (the latest period at or before it), not today's, as scoring at creation would have read.

A caveat of label-time features, recorded rather than hidden: `hours_since_last_activity` is measured at the
label time, which for a lead lost by the window is `window` days after creation and for a converted lead the
moment it converted, so its distribution differs between the classes for a reason the live lead does not share.
On a history where lost leads simply went quiet, that one column separates the classes by itself. The events
function re-scores a lead as each interaction arrives, when the hours are about 0, which
`HistoryPolicy(behaviour_as_of="last_interaction")` reproduces (the hours are then 0 for every tracked lead and
say nothing); the default follows the label time, as specified.

Cost and scale. Leads: one TenantIndex Query per 1,000 leads and one BatchGetItem per 100 (lead items of ~1 KB:
about 0.25 read units each). Outcomes: their own index partition, the same way. Behaviour: one Query per labelled
lead (more for a lead with over 1 MB of log), run on `workers` threads (boto3 clients are thread-safe; the calls
wait on the network, so threads overlap them): at ~10 ms a Query and 16 threads about 1,500 leads a second,
so 100,000 labelled leads take about a minute and a million about 11 minutes, the practical limit of a 15-minute
Lambda invocation. Market history: one Query per market. Memory holds every lead and its row (~2 KB each: about
2 GB at a million). Past that, the history should come from a DynamoDB export to S3 (or features logged with each
score) rather than per-lead reads.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import pyarrow as pa

from aiqleads.errors import DomainError
from aiqleads.features.behaviour import BEHAVIOUR_COLUMNS, BehaviourTotals
from aiqleads.features.market import MARKET_COLUMNS, market_signals
from aiqleads.models import Action, Lead, LeadOutcome, MarketSnapshot, Outcome, latest_outcomes
from aiqleads.registry.label_window import LABEL_WINDOW_DAYS
from aiqleads.validation.flat import LABEL_COLUMN as LABEL_COLUMN
from aiqleads.validation.flat import LEAD_COLUMNS, NUMERIC_LEAD_COLUMNS

COLUMNS: tuple[str, ...] = (*LEAD_COLUMNS, *BEHAVIOUR_COLUMNS, *MARKET_COLUMNS, LABEL_COLUMN)
"""The dataset's columns, in order: a flat training table as `aiqleads train` reads one."""
SCHEMA = pa.schema(
    [(name, pa.float64() if name in NUMERIC_LEAD_COLUMNS else pa.string()) for name in LEAD_COLUMNS]
    + [(name, pa.float64()) for name in (*BEHAVIOUR_COLUMNS, *MARKET_COLUMNS)]
    + [(LABEL_COLUMN, pa.int8())]
)


BehaviourAsOf = Literal["label_time", "last_interaction"]


@dataclass(frozen=True)
class HistoryPolicy:
    label_window_days: int = LABEL_WINDOW_DAYS  # a lead older than this without a conversion counts as lost
    min_labelled: int = 1000  # refuse below
    min_conversions: int = 120
    # The moment behaviour signals are measured at (the interactions counted are those before the label time
    # either way): the label time itself, or the lead's last interaction before it, as the events function
    # re-scored it then (hours_since_last_activity is 0 for every tracked lead: see the module's caveat).
    behaviour_as_of: BehaviourAsOf = "label_time"
    # Engagement fades with this half-life (the tenant's configuration; the trained model carries it).
    half_life_days: float = 30.0

    @property
    def label_window(self) -> timedelta:
        return timedelta(days=self.label_window_days)


class InsufficientHistory(DomainError):
    status = 422
    code = "insufficient_history"


class LeadHistory(Protocol):
    """Every stored lead of a tenant (with its created_at) and every recorded outcome (storage.leads)."""

    def leads(self, tenant_id: str) -> Iterable[Lead]: ...
    def outcomes(self, tenant_id: str, since: datetime | None = None) -> Sequence[LeadOutcome]: ...


class InteractionLog(Protocol):
    """A lead's logged interactions with timestamp < `moment` (storage.aggregates.InteractionLogReader)."""

    def before(self, tenant_id: str, lead_id: str, moment: datetime) -> Sequence[tuple[Action, datetime]]: ...


class MarketHistory(Protocol):
    """Every snapshot of a tenant's market, any order (storage.markets)."""

    def history(self, tenant_id: str, market: str) -> Sequence[MarketSnapshot]: ...


@dataclass(frozen=True)
class TrainingDataset:
    table: pa.Table  # COLUMNS, one row per labelled lead, oldest first
    counts: dict[str, int]
    as_of: datetime

    def write_parquet(self, path: Path) -> str:
        """Write the table; returns the file's sha256 (the model's lineage names it)."""
        import pyarrow.parquet as pq  # only the training function writes datasets

        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(self.table, path)
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True, slots=True)
class _Labelled:
    lead: Lead
    created_at: datetime
    label: int
    at: datetime  # the label time: nothing from it on goes into the row


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _period(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


class DatasetBuilder:
    def __init__(self, leads: LeadHistory, interactions: InteractionLog, markets: MarketHistory, *, workers: int = 16):
        self.leads = leads
        self.interactions = interactions
        self.markets = markets
        self.workers = workers

    def build(self, tenant_id: str, *, now: datetime, policy: HistoryPolicy) -> TrainingDataset:
        """The tenant's training set as of `now`; InsufficientHistory (nothing else read) when it is too small."""
        counts = dict.fromkeys(
            ("leads", "labelled", "conversions", "lost_reported", "lost_by_window", "unlabelled", "created_after",
             "dated_by_upload"),
            0,
        )  # fmt: skip
        known = [o for o in self.leads.outcomes(tenant_id) if o.recorded_at <= now]
        outcomes = latest_outcomes(known)
        labelled: list[_Labelled] = []
        for lead in self.leads.leads(tenant_id):
            created = lead.created_at
            if created is None:
                raise TypeError(f"lead {lead.id!r} came without its created_at (LeadHistory gives every lead one)")
            if created > now:
                counts["created_after"] += 1
                continue
            counts["leads"] += 1
            outcome = outcomes.get(lead.id)
            if outcome is not None:
                converted = outcome.outcome is Outcome.CONVERTED
                counts["conversions" if converted else "lost_reported"] += 1
                counts["dated_by_upload"] += not outcome.at_reported  # labelled as at the upload's time
                labelled.append(_Labelled(lead, created, int(converted), outcome.at))
            elif created <= now - policy.label_window:
                counts["lost_by_window"] += 1
                labelled.append(_Labelled(lead, created, 0, created + policy.label_window))
            else:
                counts["unlabelled"] += 1
        counts["labelled"] = len(labelled)
        counts["outcomes_without_lead"] = len(set(outcomes) - {item.lead.id for item in labelled})
        if counts["labelled"] < policy.min_labelled or counts["conversions"] < policy.min_conversions:
            raise InsufficientHistory(
                f"{counts['labelled']} labelled leads and {counts['conversions']} conversions; training needs at "
                f"least {policy.min_labelled} and {policy.min_conversions} (a lead counts once it has an outcome "
                f"or is older than {policy.label_window_days} days; {counts['unlabelled']} younger leads have "
                "none yet)",
                counts,
            )
        behaviour = self._behaviour(tenant_id, labelled, policy)
        counts["with_behaviour"] = sum(1 for values in behaviour if values)
        counts["without_behaviour"] = len(labelled) - counts["with_behaviour"]
        market = self._market(tenant_id, labelled)
        counts["without_market"] = sum(1 for values in market if not values)
        return TrainingDataset(self._table(labelled, behaviour, market), counts, now)

    def _behaviour(
        self, tenant_id: str, labelled: Sequence[_Labelled], policy: HistoryPolicy
    ) -> list[dict[str, float]]:
        def as_of(item: _Labelled) -> dict[str, float]:
            logged = self.interactions.before(tenant_id, item.lead.id, item.at)
            # The store bounds its read by the same moment; the rule is kept here too, where it is tested.
            totals = BehaviourTotals.replay(pair for pair in logged if pair[1] < item.at)
            if totals is None:
                return {}
            moment = item.at if policy.behaviour_as_of == "label_time" else totals.last_activity_at
            return totals.signals(item.created_at, now=moment, half_life_days=policy.half_life_days)

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="dataset") as pool:
            return list(pool.map(as_of, labelled))

    def _market(self, tenant_id: str, labelled: Sequence[_Labelled]) -> list[dict[str, float]]:
        """Per lead, the signals of its market's latest snapshot at or before its creation month."""
        history: dict[str, tuple[list[str], list[MarketSnapshot]]] = {}
        found: list[dict[str, float]] = []
        for item in labelled:
            market = item.lead.property.market
            if market not in history:
                snapshots = sorted(self.markets.history(tenant_id, market), key=lambda s: s.period)
                history[market] = ([s.period for s in snapshots], snapshots)
            periods, snapshots = history[market]
            at = bisect_right(periods, _period(item.created_at))
            found.append(market_signals(snapshots[at - 1] if at else None))
        return found

    @staticmethod
    def _table(
        labelled: Sequence[_Labelled], behaviour: Sequence[dict[str, float]], market: Sequence[dict[str, float]]
    ) -> pa.Table:
        order = sorted(range(len(labelled)), key=lambda i: (labelled[i].created_at, labelled[i].lead.id))
        columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        for i in order:
            item = labelled[i]
            flat = item.lead.flat()
            flat["created_at"] = _iso(item.created_at)
            for name in LEAD_COLUMNS:
                columns[name].append(flat[name])
            signals = behaviour[i] | market[i]
            for name in (*BEHAVIOUR_COLUMNS, *MARKET_COLUMNS):
                columns[name].append(signals.get(name))
            columns[LABEL_COLUMN].append(item.label)
        return pa.table(columns, schema=SCHEMA)
