"""The training set from a tenant's stored history: labels, the minimum, and no leakage (behaviour as of the label
time from the interaction log, market signals of the creation month)."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from aiqleads.features.behaviour import BehaviourTotals
from aiqleads.features.spec import default_spec
from aiqleads.models import Action, Interaction, Lead, LeadOutcome, Outcome
from aiqleads.training.dataset import (
    COLUMNS,
    DatasetBuilder,
    HistoryPolicy,
    InsufficientHistory,
    TrainingDataset,
)
from aiqleads.training.pipeline import TrainingOptions, train
from aiqleads.validation.flat import LABEL_COLUMN, lead_from_flat
from aiqleads_offline.generate import generate_table, market_snapshots
from tests.fakes import MemoryAggregates, MemoryMarkets

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TENANT = "t1"
ANY = HistoryPolicy(min_labelled=1, min_conversions=0)


@dataclass
class MemoryHistory:
    stored: list[Lead] = field(default_factory=list)
    reported: list[LeadOutcome] = field(default_factory=list)

    def leads(self, tenant_id: str) -> list[Lead]:
        return list(self.stored)

    def outcomes(self, tenant_id: str, since: datetime | None = None) -> list[LeadOutcome]:
        return sorted(self.reported, key=lambda o: o.at)

    def report(self, lead_id: str, outcome: str, at: datetime, recorded_at: datetime | None = None) -> None:
        self.reported.append(
            LeadOutcome(
                lead_id=lead_id,
                outcome=Outcome(outcome),
                at=at,
                at_reported=True,
                recorded_at=recorded_at or at,
                via="api",
            )
        )


def lead(lead_id: str, created_at: datetime, market: str = "austin") -> Lead:
    return Lead.model_validate(
        {
            "id": lead_id,
            "source": "zillow",
            "created_at": created_at.isoformat(),
            "contact": {"email": f"{lead_id}@example.com"},
            "property": {"type": "condo", "price": 300000, "market": market},
            "intent": "buy",
        }
    )


def builder(history: MemoryHistory, log: MemoryAggregates, markets: MemoryMarkets | None = None) -> DatasetBuilder:
    return DatasetBuilder(history, log, markets or MemoryMarkets(), workers=4)


def rows(dataset: TrainingDataset) -> dict[str, dict[str, object]]:
    return {row["id"]: row for row in dataset.table.to_pylist()}


def interact(log: MemoryAggregates, lead_id: str, action: Action, at: datetime, event: str | None = None) -> None:
    interaction = Interaction(lead_id=lead_id, actor="lead", action=action, timestamp=at)
    log.record(TENANT, interaction, event or f"{lead_id}-{action}-{at.isoformat()}")


# ------------------------------------------------------------------------------------------------ the fold
def test_replaying_the_log_follows_the_events_functions_rules() -> None:
    """The sequence tests/integration/test_repositories.py drives through DynamoDB, with the same totals."""
    start = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    sequence = [(Action.VIEW, 0), (Action.VIEW, 10), (Action.CONTACT, 20), (Action.INQUIRY, 120), (Action.VIEW, 5),
                (Action.CONTACT, 130)]  # fmt: skip
    totals = BehaviourTotals()
    for action, minutes in sequence:  # in arrival order, the late view included
        totals = totals.apply(action, start + timedelta(minutes=minutes))
    assert (totals.views, totals.inquiries, totals.sessions, totals.interactions) == (3, 1, 2, 6)
    assert totals.first_contact_at == start + timedelta(minutes=20)
    assert totals.last_activity_at == start + timedelta(minutes=130)
    shuffled = [(action, start + timedelta(minutes=m)) for action, m in random.Random(3).sample(sequence, 6)]
    assert BehaviourTotals.replay(shuffled) == totals
    assert BehaviourTotals.replay([]) is None


# ------------------------------------------------------------------------------------------------ labels
def test_labels_come_from_the_latest_outcome_or_the_window() -> None:
    history, log = MemoryHistory(), MemoryAggregates()
    old, young = NOW - timedelta(days=120), NOW - timedelta(days=30)
    history.stored = [
        lead("won", old),
        lead("lost", old),
        lead("silent-old", old),
        lead("silent-young", young),
        lead("won-back", old),
        lead("young-won", young),
        lead("reported-later", old),
        lead("created-later", NOW + timedelta(days=1)),
    ]
    history.report("won", "converted", old + timedelta(days=5))
    history.report("lost", "lost", old + timedelta(days=20))
    history.report("won-back", "lost", old + timedelta(days=3))
    history.report("won-back", "converted", old + timedelta(days=40))
    history.report("young-won", "converted", young + timedelta(days=2))
    # learned only after the dataset's moment: not known then, so labelled by its age
    history.report("reported-later", "converted", old + timedelta(days=5), recorded_at=NOW + timedelta(hours=1))
    history.report("ghost", "converted", old)  # an outcome of a lead no longer stored

    dataset = builder(history, log).build(TENANT, now=NOW, policy=ANY)
    labels = {row["id"]: row[LABEL_COLUMN] for row in dataset.table.to_pylist()}
    assert labels == {"won": 1, "lost": 0, "silent-old": 0, "won-back": 1, "young-won": 1, "reported-later": 0}
    assert dataset.counts == {
        "leads": 7,
        "labelled": 6,
        "conversions": 3,
        "lost_reported": 1,
        "lost_by_window": 2,
        "unlabelled": 1,
        "created_after": 1,
        "dated_by_upload": 0,
        "outcomes_without_lead": 1,
        "with_behaviour": 0,
        "without_behaviour": 6,
        "without_market": 6,
    }
    assert dataset.as_of == NOW
    assert tuple(dataset.table.column_names) == COLUMNS
    assert [row["created_at"] for row in dataset.table.to_pylist()] == sorted(
        row["created_at"] for row in dataset.table.to_pylist()
    )  # oldest first, the order a time split wants


def test_too_little_history_is_refused_with_the_counts() -> None:
    history = MemoryHistory()
    old = NOW - timedelta(days=200)
    history.stored = [lead(f"l{i}", old + timedelta(minutes=i)) for i in range(412)]
    for i in range(37):
        history.report(f"l{i}", "converted", old + timedelta(days=3))
    with pytest.raises(InsufficientHistory) as raised:
        builder(history, MemoryAggregates()).build(TENANT, now=NOW, policy=HistoryPolicy())
    error = raised.value
    assert (error.status, error.code) == (422, "insufficient_history")
    assert error.message.startswith("412 labelled leads and 37 conversions; training needs at least 1000 and 120"), (
        error.message
    )
    assert error.details["labelled"] == 412
    enough = HistoryPolicy(min_labelled=412, min_conversions=37)
    assert builder(history, MemoryAggregates()).build(TENANT, now=NOW, policy=enough).table.num_rows == 412


# ------------------------------------------------------------------------------------------------ no leakage
def test_behaviour_is_what_was_logged_before_the_label_time() -> None:
    history, log = MemoryHistory(), MemoryAggregates()
    created = NOW - timedelta(days=100)
    converted_at = created + timedelta(days=10)
    history.stored = [lead("won", created), lead("window", created), lead("untracked", created)]
    history.report("won", "converted", converted_at)
    for lead_id in ("won", "window"):
        interact(log, lead_id, Action.VIEW, created + timedelta(hours=1))
        interact(log, lead_id, Action.CONTACT, created + timedelta(hours=1, minutes=5))
        interact(log, lead_id, Action.INQUIRY, created + timedelta(days=2))
    interact(log, "won", Action.SCHEDULE, converted_at)  # at the outcome's moment: not before it
    for day in range(1, 6):  # the post-outcome signal
        interact(log, "won", Action.SCHEDULE, converted_at + timedelta(days=day))
    interact(log, "window", Action.SCHEDULE, created + timedelta(days=95))  # after the window closed
    found = rows(builder(history, log).build(TENANT, now=NOW, policy=ANY))
    for lead_id, label_at in (("won", converted_at), ("window", created + timedelta(days=90))):
        row = found[lead_id]

        # One view, one inquiry and two sessions before the label time, each faded from its day's noon to it
        # with the 30-day half-life; no viewing (those came at or after it).
        def faded(at: datetime, moment: datetime = label_at) -> float:
            noon = at.replace(hour=12, minute=0, second=0, microsecond=0)
            return 0.5 ** (max(0.0, (moment - noon) / timedelta(days=1)) / 30.0)

        first, second = created + timedelta(hours=1), created + timedelta(days=2)
        assert row["views"] == pytest.approx(faded(first)), lead_id
        assert row["inquiries"] == pytest.approx(faded(second)), lead_id
        assert row["sessions"] == pytest.approx(faded(first) + faded(second)), lead_id
        assert row["schedules"] == 0, lead_id
        assert row["minutes_to_first_contact"] == pytest.approx(65)
        assert row["hours_since_last_activity"] == pytest.approx(
            (label_at - created - timedelta(days=2)) / timedelta(hours=1)
        )
    assert all(found["untracked"][name] is None for name in ("views", "sessions", "hours_since_last_activity"))


def test_market_signals_are_the_creation_months() -> None:
    history, markets = MemoryHistory(), MemoryMarkets()
    for month in (3, 5, 11):
        markets.put_many(TENANT, [s for s in market_snapshots(2026, month) if s.market == "austin"])
    markets.put_many("other-tenant", market_snapshots(2026, 4))
    at = {"march": datetime(2026, 3, 31, tzinfo=UTC), "april": datetime(2026, 4, 15, tzinfo=UTC),
          "may": datetime(2026, 5, 1, tzinfo=UTC), "before": datetime(2026, 2, 1, tzinfo=UTC)}  # fmt: skip
    history.stored = [lead(name, moment) for name, moment in at.items()] + [lead("boise", at["may"], "boise")]
    found = rows(builder(history, MemoryAggregates(), markets).build(TENANT, now=NOW, policy=ANY))
    prices = {s.period: s.median_price for s in markets.history(TENANT, "austin")}
    assert found["march"]["market_median_price"] == prices["2026-03"]
    assert found["april"]["market_median_price"] == prices["2026-03"]  # no April snapshot: the latest before
    assert found["may"]["market_median_price"] == prices["2026-05"]  # not November's, the latest now
    assert found["before"]["market_median_price"] is None  # nothing known then
    assert found["boise"]["market_median_price"] is None


def _history_with_a_planted_signal(
    count: int, *, plant: bool
) -> tuple[MemoryHistory, MemoryAggregates, dict[str, int]]:
    """Generated leads with their real outcomes and the same pre-outcome behaviour for all; with `plant`, every
    converted lead also gets many schedules and contacts after its conversion, and lost leads nothing."""
    table = generate_table(count, 11, invalid_rate=0.0, start=NOW - timedelta(days=400), days=300)
    history, log = MemoryHistory(), MemoryAggregates()
    labels: dict[str, int] = {}
    for row in table.to_pylist():
        item = lead_from_flat(row)
        if item.created_at is None:
            continue
        history.stored.append(item)
        created, converted = item.created_at, row[LABEL_COLUMN] == "1"
        labels[item.id] = int(converted)
        at = created + timedelta(days=7 if converted else 90)
        # The same behaviour for every lead, as seen from its label time (so its recency says nothing either).
        interact(log, item.id, Action.VIEW, at - timedelta(hours=1))
        if converted:
            history.report(item.id, "converted", at)
            if plant:
                for n in range(12):
                    interact(log, item.id, Action.SCHEDULE, at + timedelta(hours=n + 1))
                    interact(log, item.id, Action.CONTACT, at + timedelta(hours=n + 1, minutes=1))
    return history, log, labels


def test_a_post_outcome_signal_never_reaches_the_dataset(tmp_path: Path) -> None:
    planted, planted_log, labels = _history_with_a_planted_signal(1600, plant=True)
    clean, clean_log, _ = _history_with_a_planted_signal(1600, plant=False)
    policy = HistoryPolicy(min_labelled=1000, min_conversions=120)
    dataset = builder(planted, planted_log).build(TENANT, now=NOW, policy=policy)
    assert dataset.counts["conversions"] >= 120
    converted = [row for row in dataset.table.to_pylist() if row[LABEL_COLUMN] == 1]
    assert all(row["schedules"] == 0 and row["minutes_to_first_contact"] is None for row in converted)
    # Byte for byte the dataset of the same history without the planted interactions: no model can use them.
    assert dataset.table.equals(builder(clean, clean_log).build(TENANT, now=NOW, policy=policy).table)

    # The running totals, which hold them, would have handed a model the answer.
    leaky = dataset.table.to_pylist()
    for row in leaky:
        totals = planted_log.totals[TENANT, row["id"]]
        row.update(totals.signals(datetime.fromisoformat(row["created_at"]), NOW, half_life_days=30.0))
    leaky_path = tmp_path / "leaky.parquet"
    TrainingDataset(dataset.table.from_pylist(leaky, schema=dataset.table.schema), {}, NOW).write_parquet(leaky_path)
    path = tmp_path / "dataset.parquet"
    digest = dataset.write_parquet(path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert pq.read_table(path).equals(dataset.table)
    options = TrainingOptions(label=LABEL_COLUMN, spec=default_spec(), threads=1)
    honest = train(path, tmp_path / "honest", options).metrics["roc_auc"]
    cheating = train(leaky_path, tmp_path / "leaky", options).metrics["roc_auc"]
    assert cheating > 0.99
    assert honest < 0.9
    assert sum(labels.values()) == dataset.counts["conversions"]


def test_recency_can_be_measured_at_the_last_interaction_instead() -> None:
    """Lost leads labelled by the window are 90 days past their last activity at the label time, converted ones
    hours: the default's caveat. Measured at the last interaction, as the events function re-scored, it is 0."""
    history, log = MemoryHistory(), MemoryAggregates()
    created = NOW - timedelta(days=200)
    history.stored = [lead("won", created), lead("window", created)]
    history.report("won", "converted", created + timedelta(days=2))
    for lead_id in ("won", "window"):
        interact(log, lead_id, Action.VIEW, created + timedelta(days=1))
    found = rows(builder(history, log).build(TENANT, now=NOW, policy=ANY))
    assert (found["won"]["hours_since_last_activity"], found["window"]["hours_since_last_activity"]) == (24, 89 * 24)
    policy = HistoryPolicy(min_labelled=1, min_conversions=0, behaviour_as_of="last_interaction")
    found = rows(builder(history, log).build(TENANT, now=NOW, policy=policy))
    assert (found["won"]["hours_since_last_activity"], found["window"]["hours_since_last_activity"]) == (0, 0)
    assert found["won"]["views"] == found["window"]["views"] == 1


def test_the_training_function_wires_the_readers_of_its_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiqleads import composition
    from aiqleads.process_cache import reset
    from aiqleads.storage.aggregates import InteractionLogReader
    from aiqleads.storage.leads import LeadHistoryReader
    from aiqleads.storage.markets import MarketSignalRepository

    names = {"LEADS_TABLE": "L", "AGGREGATES_TABLE": "A", "MARKET_SIGNALS_TABLE": "M", "OUTBOX_TABLE": "T",
             "MODELS_TABLE": "MT", "MODELS_BUCKET": "MB", "JOBS_TABLE": "J", "TENANTS_TABLE": "TT",
             "TRAINING_QUEUE_URL": "q1", "BULK_QUEUE_URL": "q2",
             "TRAINING_MIN_LABELLED": "500", "LABEL_WINDOW_DAYS": "60"}  # fmt: skip
    for name, value in names.items():
        monkeypatch.setenv(name, value)
    reset()
    try:
        built = composition.training_dataset_builder()
        policy = composition.training_history_policy()
    finally:
        reset()
    assert isinstance(built.leads, LeadHistoryReader)
    assert isinstance(built.interactions, InteractionLogReader)
    assert isinstance(built.markets, MarketSignalRepository)
    assert (built.leads.table_name, built.interactions.table_name, built.markets.table_name) == ("L", "A", "M")
    assert policy == HistoryPolicy(label_window_days=60, min_labelled=500, min_conversions=120)
