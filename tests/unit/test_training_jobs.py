"""Training jobs on in-memory stores with the real pipeline: a candidate is trained, compared with the serving
model on its own holdout, registered with that comparison, and promoted, shadowed or kept as the rules say; too
little history is a refusal that changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aiqleads.composition import default_scorer
from aiqleads.registry.records import Comparison, Figures
from aiqleads.registry.service import ModelRegistry
from aiqleads.registry.serving import ModelResolver
from aiqleads.storage.jobs import StoredJob
from aiqleads.training.dataset import HistoryPolicy, InsufficientHistory, TrainingDataset
from aiqleads.training.jobs import STAGES, TrainingConfig, TrainingJobs, TrainingRequest, job_view
from aiqleads_offline.generate import generate_table
from tests.fakes import MemoryEvents, MemoryJobs
from tests.registry_fakes import MemoryBlobs, memory_registry

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, body: dict[str, Any], delay_seconds: int = 0, attributes: dict[str, str] | None = None) -> str:
        self.sent.append(body)
        return "m1"

    def send_many(self, bodies: list[dict[str, Any]]) -> None:
        self.sent.extend(bodies)


class GeneratedHistory:
    """A tenant whose history is generated leads with their real outcomes (or too little of it)."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.calls: list[tuple[str, HistoryPolicy]] = []

    def build(self, tenant_id: str, *, now: datetime, policy: HistoryPolicy) -> TrainingDataset:
        self.calls.append((tenant_id, policy))
        if self.rows < policy.min_labelled:
            raise InsufficientHistory(
                f"{self.rows} labelled leads; training needs at least {policy.min_labelled}",
                {"labelled": self.rows},
            )
        table = generate_table(self.rows, 5, invalid_rate=0.0)
        return TrainingDataset(table=table, counts={"labelled": self.rows}, as_of=now)


class Policies:
    def __init__(self, policy: str = "keep") -> None:
        self.policy = policy

    def challengers(self, tenant_id: str) -> Any:
        return self.policy

    def half_life_days(self, tenant_id: str) -> float:
        return 14.0  # the tenant's own: its model carries it


def wire(
    tmp_path: Path, rows: int = 5_000, *, min_gain: float = 0.005, policy: str = "keep"
) -> tuple[TrainingJobs, ModelRegistry, MemoryJobs, MemoryEvents]:
    registry = memory_registry()
    events = MemoryEvents()
    registry.events = events
    resolver = ModelResolver(
        registry.store,  # type: ignore[arg-type]
        registry.blobs,
        cache_dir=tmp_path / "models",
        ttl_seconds=0,
        fallback=default_scorer,
    )
    jobs = MemoryJobs()
    assert isinstance(registry.blobs, MemoryBlobs)
    training = TrainingJobs(
        jobs=jobs,
        queue=Recorder(),
        events=events,
        datasets=GeneratedHistory(rows),
        registry=registry,
        serving=resolver,
        tenants=Policies(policy),
        config=TrainingConfig(min_auc_gain=min_gain, policy=HistoryPolicy(min_labelled=1000), work_dir=tmp_path),
        clock=lambda: NOW.timestamp(),
    )
    return training, registry, jobs, events


def stored(jobs: MemoryJobs, job_id: str) -> StoredJob:
    job = jobs.get("demo", job_id)
    assert job is not None
    return job


def test_a_job_trains_compares_on_the_newest_leads_and_registers_the_candidate_with_its_lineage(tmp_path: Path):
    training, registry, jobs, events = wire(tmp_path, min_gain=1.0)  # a gain of 1.0 is impossible: never promoted
    accepted = training.submit("demo", TrainingRequest())
    assert job_view(stored(jobs, accepted.job_id)).status == "queued"
    assert training.run("demo", accepted.job_id, owner="w1") == "kept"

    view = job_view(stored(jobs, accepted.job_id))
    assert (view.status, view.kind, view.progress.done, view.progress.total) == ("completed", "training", 5, 5)
    assert view.model is not None
    result = view.model
    comparison = result.comparison
    assert comparison.serving_version == "2.0.0"
    assert comparison.holdout_rows > 500  # the newest fifth of 5,000 leads, all scorable by both models
    assert comparison.candidate.roc_auc > 0.7
    assert comparison.serving.roc_auc > 0.7
    assert comparison.holdout_created[0] is not None
    assert comparison.holdout_created[0] < comparison.holdout_created[1]
    assert comparison.auc_gain == pytest.approx(comparison.candidate.roc_auc - comparison.serving.roc_auc, abs=1e-5)
    assert "not promoted" in result.reason

    shown = registry.show("demo", result.version)
    assert shown.comparison == comparison
    assert shown.aliases == []
    assert not shown.serving
    assert shown.lineage.parent_version == "2.0.0"
    assert shown.lineage.data_snapshot == f"models/tenants/demo/{result.version}/dataset.parquet"
    assert registry.blobs.get(shown.lineage.data_snapshot or "") is not None
    assert registry.versions("demo").serving == "2.0.0"
    assert [e.type for e in events.published] == ["model.trained"]
    assert events.published[0].data["decision"] == "kept"


def test_a_candidate_that_beats_the_serving_model_is_promoted_and_announced(tmp_path: Path):
    training, registry, _jobs, events = wire(tmp_path, min_gain=-1.0)
    comparison = decided(training, registry, beats=True)
    assert comparison.decision == "promoted"
    assert registry.versions("demo").serving == comparison.version
    assert [e.type for e in events.published] == ["model.promoted"]


def test_a_candidate_that_does_not_beat_it_shadows_production_when_the_tenant_says_so(tmp_path: Path):
    training, registry, _, _ = wire(tmp_path, policy="shadow")
    result = decided(training, registry, beats=False)
    assert result.decision == "shadow"
    assert registry.show("demo", result.version).aliases == ["shadow"]
    assert registry.versions("demo").serving == "2.0.0"
    # The request's own choice wins over the tenant's policy.
    training2, registry2, _, _ = wire(tmp_path, policy="shadow")
    assert decided(training2, registry2, beats=False, request=TrainingRequest(challengers="keep")).decision == "kept"


def decided(
    training: TrainingJobs, registry: ModelRegistry, *, beats: bool, request: TrainingRequest | None = None
) -> Any:
    from tests.registry_fakes import shipped_files

    version = "20261130-candidate"
    registry.register("demo", shipped_files(), version=version)
    figures = Figures(roc_auc=0.8, pr_auc=0.3, brier=0.08, log_loss=0.3, lift_top_decile=3.0)
    comparison = Comparison(
        serving_version="2.0.0",
        holdout_rows=1000,
        holdout_conversions=100,
        holdout_created=["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"],
        candidate=figures,
        serving=figures,
        auc_gain=0.0,
        brier_change=0.0,
        min_auc_gain=0.005,
        beats_serving=beats,
    )
    return training._decide("demo", version, comparison, request or TrainingRequest())


def test_too_little_history_is_refused_with_the_reason_and_nothing_changes(tmp_path: Path):
    training, registry, jobs, events = wire(tmp_path, rows=400)
    accepted = training.submit("demo", TrainingRequest(label_window_days=30))
    assert training.run("demo", accepted.job_id, owner="w1") == "refused"
    view = job_view(stored(jobs, accepted.job_id))
    assert (view.status, view.refused, view.model) == ("failed", True, None)
    assert view.error == "400 labelled leads; training needs at least 1000"
    assert [v.version for v in registry.versions("demo").data] == ["2.0.0"]
    assert registry.versions("demo").serving == "2.0.0"
    assert events.published == []
    assert isinstance(training.datasets, GeneratedHistory)
    assert training.datasets.calls[0][1].label_window_days == 30  # the request's window reached the builder


def test_a_redelivered_message_does_not_train_twice_and_the_schedule_queues_one_job_per_tenant(tmp_path: Path):
    training, _, jobs, _ = wire(tmp_path, rows=400)
    accepted = training.submit("demo", TrainingRequest())
    assert training.run("demo", accepted.job_id, owner="w1") == "refused"
    assert training.run("demo", accepted.job_id, owner="w2") == "skipped"
    scheduled = training.schedule(["demo", "acme-realty"])
    assert len(scheduled) == 2
    assert isinstance(training.queue, Recorder)
    assert [m["tenant_id"] for m in training.queue.sent[-2:]] == ["demo", "acme-realty"]
    assert all(stored_job.record["trigger"] == "schedule" for (t, j), stored_job in jobs.jobs.items() if j in scheduled)
    assert STAGES[0] == "dataset"
