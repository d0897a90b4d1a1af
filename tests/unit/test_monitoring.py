"""Model monitoring: the baseline's bins, PSI and its bands, live performance with its minimum count, and a whole
run over leads scored by the shipped model through the batch path (their stored input codes), with in-memory
stores. The local cloud's version of the same flows is tests/integration/test_monitoring.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from aiqleads.composition import default_scorer
from aiqleads.models import LeadOutcome, Outcome
from aiqleads.monitoring.baseline import Baseline, Bins
from aiqleads.monitoring.drift import ACT, WATCH, band, drift, not_alerting, psi
from aiqleads.monitoring.performance import NOT_ENOUGH, performance
from aiqleads.monitoring.report import AlertKind, MonitorRun
from aiqleads.monitoring.runner import Monitor, MonitorConfig
from aiqleads.notifications.alerts import Alert
from aiqleads.registry.shadow import ShadowPair
from aiqleads.scoring.batch import score_table
from aiqleads.scoring.scorer import Scorer
from aiqleads.storage.open_leads import ServedScore, StoredLead
from aiqleads.training.jobs import TrainingJobAccepted, TrainingRequest
from aiqleads_offline.generate import generate_table

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


# ------------------------------------------------------------------------------------------------ bins and PSI
def test_decile_bins_hold_a_tenth_each_and_missing_apart() -> None:
    rng = np.random.default_rng(1)
    values = rng.lognormal(12, 0.5, 10_000)
    values[:500] = np.nan
    bins = Bins.fit(values)
    assert len(bins.edges) == 9
    assert bins.shares == pytest.approx([0.1] * 10, abs=0.002)
    assert bins.missing == pytest.approx(0.05)
    flags = Bins.fit(np.r_[np.zeros(700), np.ones(300)])  # a boolean: two bins, not ten
    assert flags.edges == [0.0]
    assert flags.shares == pytest.approx([0.7, 0.3])


def test_psi_is_the_textbook_sum_and_its_bands() -> None:
    expected, live = [0.25, 0.25, 0.5], [0.2, 0.3, 0.5]
    by_hand = sum((a - e) * np.log(a / e) for e, a in zip(expected, live, strict=True))
    assert psi(expected, live) == pytest.approx(by_hand)
    assert psi(expected, expected) == 0.0
    assert [band(0.05), band(WATCH), band(0.2), band(ACT), band(3.0)] == ["stable", "watch", "watch", "act", "act"]


def test_the_same_distribution_is_stable_and_a_shifted_one_acts() -> None:
    rng = np.random.default_rng(2)
    bins = Bins.fit(rng.normal(0, 1, 20_000))
    assert drift("x", bins, rng.normal(0, 1, 5_000)).band == "stable"
    assert drift("x", bins, rng.normal(0.4, 1, 5_000)).band == "watch"  # PSI about 0.16
    shifted = drift("x", bins, rng.normal(1.5, 1, 5_000))
    assert shifted.band == "act"
    empty = drift("x", bins, np.full(1_000, np.nan))  # a feature that starts arriving empty drifts too
    assert (empty.band, empty.missing_share) == ("act", 1.0)


# ------------------------------------------------------------------------------------------------ performance
def test_live_figures_are_sklearns_and_say_not_enough_below_the_minimum() -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(0.01, 0.6, 400)
    y = (rng.random(400) < p).astype(float)
    deciles = Bins.fit(rng.uniform(0.01, 0.6, 5_000))
    grades = np.where(p >= 0.4, "A", np.where(p >= 0.25, "B", np.where(p >= 0.1, "C", "D"))).tolist()
    figures = performance(y, p, grades, deciles, min_outcomes=100)
    assert figures.roc_auc.value == pytest.approx(roc_auc_score(y, p), abs=1e-6)
    assert figures.brier.value == pytest.approx(brier_score_loss(y, p), abs=1e-6)
    assert figures.roc_auc.outcomes == 400
    assert all(g.in_band for g in figures.by_grade if g.in_band is not None)  # drawn calibrated: inside the bands
    assert sum(b.outcomes for b in figures.by_decile) == 400
    few = performance(y[:60], p[:60], grades[:60], deciles, min_outcomes=100)
    assert few.roc_auc.value is None
    assert few.roc_auc.note is not None
    assert few.roc_auc.note.startswith(NOT_ENOUGH)
    inverted = performance(1 - y, p, grades, deciles, min_outcomes=100)
    assert any(g.in_band is False for g in inverted.by_grade)


# ------------------------------------------------------------------------------------------------ a run
@dataclass
class Stores:
    """The monitor's stores, in memory."""

    leads: list[StoredLead] = field(default_factory=list)
    outcome_list: list[LeadOutcome] = field(default_factory=list)
    pairs: list[ShadowPair] = field(default_factory=list)
    saved: list[MonitorRun] = field(default_factory=list)
    marks: set[tuple[str, str, str, str]] = field(default_factory=set)
    published: list[Alert] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    retrain: bool = False

    def page(self, tenant_id: str, since: datetime, limit: int, after: dict[str, str] | None = None) -> Any:
        start = int(after["at"]) if after else 0
        rest = start + limit
        return self.leads[start:rest], ({"at": str(rest)} if rest < len(self.leads) else None)

    def outcomes(self, tenant_id: str, since: datetime | None = None) -> list[LeadOutcome]:
        return [o for o in self.outcome_list if since is None or o.at >= since]

    def served(self, tenant_id: str, lead_ids: Any) -> dict[str, ServedScore]:
        known = {lead.lead_id: lead for lead in self.leads}
        return {
            i: ServedScore(known[i].probability or 0.0, known[i].grade or "D", known[i].model_version or "")
            for i in lead_ids
            if i in known
        }

    def save(self, run: MonitorRun) -> None:
        self.saved.append(run)

    def mark_alert(self, tenant_id: str, version: str, kind: AlertKind, at: datetime) -> bool:
        key = (tenant_id, version, kind, f"{at:%Y-%m-%d}")
        if key in self.marks:
            return False
        self.marks.add(key)
        return True

    def unmark_alert(self, tenant_id: str, version: str, kind: AlertKind, at: datetime) -> None:
        self.marks.discard((tenant_id, version, kind, f"{at:%Y-%m-%d}"))

    def publish(self, alert: Alert) -> None:
        self.published.append(alert)

    def retrain_on_alert(self, tenant_id: str) -> bool:
        return self.retrain

    def submit(self, tenant_id: str, request: TrainingRequest, *, trigger: str = "request") -> TrainingJobAccepted:
        self.submitted.append(trigger)
        return TrainingJobAccepted(job_id=f"train-{len(self.submitted)}", status_url="/v1/jobs/x")


@dataclass
class Models:
    production: Scorer
    shadow_model: Scorer | None = None

    def scorer(self, tenant_id: str) -> Scorer:
        return self.production

    def shadow(self, tenant_id: str) -> Scorer | None:
        return self.shadow_model


def scored_leads(
    rows: int, seed: int, price_factor: float = 1.0, column: str = "price"
) -> tuple[list[StoredLead], np.ndarray]:
    """Generated leads (drawn as the training data was) scored through the batch path, as the store holds them,
    and their real outcomes."""
    table = generate_table(rows, seed, invalid_rate=0.0)
    labels = np.asarray(pc.cast(table["converted"], pa.int64()).to_numpy(zero_copy_only=False))
    table = table.drop_columns(["converted"])
    if price_factor != 1.0:
        price = pc.cast(pc.multiply(pc.cast(table[column], pa.float64()), price_factor), pa.string())
        table = table.set_column(table.schema.get_field_index(column), column, price)
    scorer = default_scorer()
    scores = score_table(scorer, table).scores
    assert scores.inputs is not None
    ids = table["id"].to_pylist()
    leads = [
        StoredLead(
            lead_id=ids[row],
            lead_json="{}",
            market="m",
            grade=str(scores.grade[row]),
            score=int(scores.score[row]),
            model_version=scorer.model_version,
            sold_exclusive_at=None,
            probability=float(scores.probability[row]),
            inputs=scores.inputs[row].decode(),
        )
        for row in range(len(ids))
    ]
    return leads, labels


def outcomes_of(leads: list[StoredLead], labels: np.ndarray) -> list[LeadOutcome]:
    at = NOW - timedelta(hours=3)
    return [
        LeadOutcome(
            lead_id=lead.lead_id,
            outcome=Outcome.CONVERTED if label else Outcome.LOST,
            at=at,
            at_reported=True,
            recorded_at=at,
            via="api",
        )
        for lead, label in zip(leads, labels, strict=True)
    ]


def monitor(stores: Stores, models: Models, **config: Any) -> Monitor:
    return Monitor(
        models=models,
        leads=stores,
        outcomes=stores,
        served=stores,
        shadow_pairs=_Pairs(stores),
        runs=stores,
        alerts=stores,
        policies=stores,
        training=stores,
        config=MonitorConfig(**config),
        clock=lambda: NOW,
    )


@dataclass
class _Pairs:
    stores: Stores

    def pairs(self, tenant_id: str, version: str) -> list[ShadowPair]:
        return [p for p in self.stores.pairs if p.shadow_version == version]


def test_leads_drawn_like_the_training_data_raise_nothing() -> None:
    leads, labels = scored_leads(3000, 41)
    stores = Stores(leads=leads, outcome_list=outcomes_of(leads, labels))
    run = monitor(stores, Models(default_scorer())).run("acme")
    health = run.production
    assert health.leads == 3000
    assert health.psi_max is not None
    assert health.psi_max < WATCH
    assert {d.name for d in health.features} == set(default_scorer().artifact.manifest.feature_names)
    assert health.performance.roc_auc.value is not None
    assert health.auc_drop is not None
    assert health.auc_drop < 0.05
    assert run.alerts == []
    assert stores.published == []
    assert stores.submitted == []
    assert stores.saved == [run]


def test_prices_several_times_the_market_act_on_the_price_features_and_alert_once_a_day() -> None:
    leads, _labels = scored_leads(3000, 42, price_factor=4.0)
    stores = Stores(leads=leads, retrain=True)
    watch = monitor(stores, Models(default_scorer()))
    run = watch.run("acme")
    drifted = {d.name for d in run.production.features if d.band == "act"}
    assert {"price", "price_per_sqft", "price_vs_market"} <= drifted
    assert run.production.performance.roc_auc.note is not None  # no outcomes yet: no number
    (alert,) = stores.published
    assert alert.type == "model.drift"
    assert alert.tenant_id == "acme"
    assert alert.details["kind"] == "drift"
    assert alert.details["model_version"] == default_scorer().model_version
    assert alert.details["subject"] in drifted
    assert alert.details["value"] >= ACT
    assert alert.details["threshold"] == ACT
    assert run.training_job_id == "train-1"
    assert stores.submitted == ["alert"]
    again = watch.run("acme")  # the same day: reported, not sent again
    assert [a.sent for a in again.alerts] == [False]
    assert len(stores.published) == 1
    assert again.training_job_id is None


def test_outcomes_that_contradict_the_model_lower_live_auc_and_alert() -> None:
    leads, labels = scored_leads(2000, 43)
    stores = Stores(leads=leads, outcome_list=outcomes_of(leads, 1 - labels))
    run = monitor(stores, Models(default_scorer())).run("acme")
    live = run.production.performance.roc_auc.value
    assert live is not None
    assert live < 0.5
    kinds = {a.kind: a for a in run.alerts}
    assert {"performance", "calibration"} <= set(kinds)
    assert kinds["performance"].value == live
    assert kinds["performance"].threshold == pytest.approx(run.production.training_auc - 0.05, abs=1e-6)
    assert {a.type for a in stores.published} >= {"model.performance", "model.calibration"}


def test_a_failed_publish_gives_the_days_claim_back() -> None:
    leads, _ = scored_leads(1500, 44, price_factor=4.0)
    stores = Stores(leads=leads)

    def broken(alert: Alert) -> None:
        raise ConnectionError("SNS unavailable")

    stores.publish = broken  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        monitor(stores, Models(default_scorer())).run("acme")
    assert stores.marks == set()  # the retry sends it


def test_below_the_minimum_outcomes_it_says_so_and_the_shadow_is_beside_production() -> None:
    leads, labels = scored_leads(1200, 45)
    scorer = default_scorer()
    shadow = Scorer(scorer.artifact, grades={"A": 0.5, "B": 0.3, "C": 0.1})
    stores = Stores(leads=leads, outcome_list=outcomes_of(leads[:50], labels[:50]))
    stores.pairs = [
        ShadowPair(lead.lead_id, "shadow-v", (lead.probability or 0) * 0.9, "C", lead.model_version or "", 0.0, "D")
        for lead in leads
    ]
    run = monitor(stores, Models(scorer, _Renamed(shadow, "shadow-v"))).run("acme")  # type: ignore[arg-type]
    assert run.production.performance.roc_auc.value is None
    assert run.production.performance.roc_auc.outcomes == 50
    assert run.shadow is not None
    assert run.shadow.version == "shadow-v"
    assert run.shadow.role == "shadow"
    assert run.shadow.leads == 1200
    assert run.shadow.score is not None
    assert run.shadow.performance.outcomes == 50
    assert all(a.model_version != "shadow-v" for a in run.alerts)  # nobody is paged for an experiment


@dataclass
class _Renamed:
    """A scorer under another version name (a shadow built from the shipped model)."""

    inner: Scorer
    model_version: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_the_shipped_model_carries_its_baseline() -> None:
    manifest = default_scorer().artifact.manifest
    baseline = manifest.baseline
    assert isinstance(baseline, Baseline)
    assert set(baseline.features) == set(manifest.feature_names)
    assert baseline.roc_auc == pytest.approx(manifest.metrics["roc_auc"])
    assert baseline.probability.shares == pytest.approx([0.1] * 10, abs=0.002)


def test_a_score_records_the_same_input_codes_on_both_paths() -> None:
    """The record path (API, events) and the batch path (bulk, rescoring) store the same `inputs` for a lead."""
    from aiqleads.validation.columnar import validate_batch

    scorer = default_scorer()
    table = generate_table(300, 46, invalid_rate=0.0).drop_columns(["converted"])
    assert scorer.input_codes is not None
    validated = validate_batch(table, scorer.spec)
    matrix = scorer.columnar_features.matrix(validated.typed, validated.size)
    batch = [codes.decode() for codes in scorer.input_codes.rows(matrix)]
    one_by_one = [scorer.input_codes.row(row) for row in matrix]
    assert batch == one_by_one
    assert all(len(codes) == len(scorer.artifact.manifest.feature_names) for codes in batch)
    assert any("-" in codes for codes in batch)  # missing inputs have a code of their own


def test_calendar_parts_and_monthly_market_signals_are_reported_not_alerted() -> None:
    assert not_alerting("month", "lead", 7) is not None  # a week cannot hold a year's months
    assert not_alerting("weekday", "lead", 7) is None
    assert not_alerting("hour", "lead", 7) is None
    assert not_alerting(None, "market", 7) is not None  # one snapshot per market in a week
    assert not_alerting(None, "market", 30) is None
    assert not_alerting(None, "derived", 7) is None  # price_vs_market: the lead against its market, alerts
    leads, _ = scored_leads(2000, 47, price_factor=5.0, column="market_inventory")
    stores = Stores(leads=leads)
    run = monitor(stores, Models(default_scorer())).run("acme")
    inventory = next(d for d in run.production.features if d.name == "market_inventory")
    assert inventory.band == "act"
    assert inventory.alerting is False
    assert inventory.note is not None
    assert run.alerts == []
    assert run.production.psi_max is not None
    assert run.production.psi_max < ACT
