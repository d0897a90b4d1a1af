"""Training jobs: a tenant's stored history -> a candidate model, registered, compared with the serving model on
the same newest leads, and promoted only when it is better.

`POST /v1/models/training-jobs` (the api function) submits one; the schedule (template.yaml, every
TrainingIntervalDays) submits one per tenant; the training function runs them from TrainingQueue. A job record
(JobsTable, leased like bulk jobs) goes queued -> running (stage by stage: dataset, train, compare, register,
decide) -> completed with a `TrainingResult`, or failed with the reason (too little history is a refusal: the
tenant stays on its current model, nothing is registered).

The candidate is registered whatever the comparison says (with its comparison, so `GET /v1/models/{version}`
shows it); it becomes production only when its ROC AUC beats the serving model's by PromotionMinAucGain with a
Brier score no worse. Otherwise the tenant's policy (`challengers`: keep or shadow) decides whether it shadows.

This module never imports LightGBM: the api function imports it to submit jobs and show their status.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import numpy as np
import pyarrow.compute as pc
from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from aiqleads.errors import DomainError
from aiqleads.jobs.status import JobView
from aiqleads.jobs.store import JobStore
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.ports import EventSink, MessageQueue
from aiqleads.registry.records import Comparison, Decision, Figures, Lineage, TrainingResult
from aiqleads.registry.service import artifact_key
from aiqleads.scoring.batch import score_table
from aiqleads.scoring.metrics import evaluate
from aiqleads.tenants.service import Challengers
from aiqleads.training.dataset import LABEL_COLUMN, HistoryPolicy, TrainingDataset

if TYPE_CHECKING:
    from aiqleads.registry.service import ModelRegistry
    from aiqleads.scoring.scorer import Scorer
    from aiqleads.storage.jobs import StoredJob
    from aiqleads.training.pipeline import TrainingReport

logger = Logger(child=True)  # under the function's Powertools logger, whatever its service name

JOB_KIND: Final = "training"
STAGES: Final = ("dataset", "train", "compare", "register", "decide")
JOB_TTL_SECONDS = 90 * 24 * 3600
LEASE_SECONDS = 900.0  # the function's timeout: a job whose invocation died is taken over after it
SNAPSHOT_FILE = "dataset.parquet"


class TrainingRequest(BaseModel):
    """The body of POST /v1/models/training-jobs (every field optional)."""

    model_config = ConfigDict(extra="forbid")

    challengers: Challengers | None = Field(
        None,
        description="what becomes of a candidate that does not beat the serving model: keep (registered only) or "
        "shadow (it shadows production); default: the tenant's policy",
    )
    label_window_days: int | None = Field(
        None, ge=1, le=3650, description="a lead older than this without a conversion counts as lost (default 90)"
    )


class TrainingJobAccepted(BaseModel):
    job_id: str
    status: Literal["queued"] = "queued"
    status_url: str


class DatasetSource(Protocol):
    def build(self, tenant_id: str, *, now: datetime, policy: HistoryPolicy) -> TrainingDataset: ...


class TenantPolicies(Protocol):
    def challengers(self, tenant_id: str) -> Challengers: ...
    def half_life_days(self, tenant_id: str) -> float: ...


Train = Callable[[Path, Path, Any], "TrainingReport"]


@dataclass(frozen=True)
class TrainingConfig:
    min_auc_gain: float = 0.005
    policy: HistoryPolicy = field(default_factory=HistoryPolicy)
    threads: int = 2
    code_version: str | None = None
    work_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))


def job_view(stored: StoredJob) -> JobView:
    """A training job as GET /v1/jobs/{id} reports it: its stage as progress, its result once completed."""
    record: dict[str, Any] = stored.record
    result = record.get("result")
    view = JobView.of(
        stored,
        JOB_KIND,
        int(record.get("done", 0)),
        len(STAGES),
        status="queued" if stored.status == "running" and not record.get("started") else None,
        error=record.get("error"),
        created_at=record.get("created_at"),
        completed_at=record.get("completed_at"),
    )
    return view.model_copy(
        update={
            "stage": record.get("stage"),
            "refused": record.get("refused"),
            "model": TrainingResult.model_validate(result) if result else None,
        }
    )


def _figures(labels: np.ndarray, probabilities: np.ndarray) -> Figures:
    return Figures.model_validate(evaluate(labels, probabilities))


def compare(report: TrainingReport, serving: Scorer, min_auc_gain: float) -> Comparison:
    """The candidate and the serving model on the candidate's holdout: the rows both could score."""
    if report.holdout is None or report.holdout_labels is None or report.holdout_probabilities is None:
        raise RuntimeError("the training report has no holdout to compare on")
    scored = score_table(serving, report.holdout)
    valid = np.asarray(scored.validated.valid, dtype=bool)
    labels = report.holdout_labels[valid].astype(np.float64)
    candidate = _figures(labels, report.holdout_probabilities[valid])
    current = _figures(labels, scored.scores.probability)
    created = report.holdout.column("created_at") if "created_at" in report.holdout.column_names else None
    span = [None, None]
    if created is not None and len(created):
        text = pc.cast(created, "string")
        span = [pc.min(text).as_py(), pc.max(text).as_py()]
    gain = round(candidate.roc_auc - current.roc_auc, 6)
    brier_change = round(candidate.brier - current.brier, 6)
    return Comparison(
        serving_version=serving.model_version,
        holdout_rows=int(valid.sum()),
        holdout_conversions=int(labels.sum()),
        holdout_created=span,
        candidate=candidate,
        serving=current,
        auc_gain=gain,
        brier_change=brier_change,
        min_auc_gain=min_auc_gain,
        beats_serving=gain >= min_auc_gain and brier_change <= 0,
    )


@dataclass
class TrainingJobs:
    jobs: JobStore
    queue: MessageQueue | None  # where jobs are queued: the API and the schedule
    events: EventSink | None = None
    # What only the worker (the training function) holds:
    datasets: DatasetSource | None = None
    registry: ModelRegistry | None = None
    serving: Callable[[str], Scorer] | None = None
    tenants: TenantPolicies | None = None
    config: TrainingConfig = field(default_factory=TrainingConfig)
    train: Train | None = None  # aiqleads.training.pipeline.train unless a test gives another
    clock: Callable[[], float] = field(default=time.time)

    # ---------------------------------------------------------------- submitting
    def submit(self, tenant_id: str, request: TrainingRequest, *, trigger: str = "request") -> TrainingJobAccepted:
        if self.queue is None:
            raise RuntimeError("training jobs are submitted where a training queue is configured")
        job_id = f"train-{uuid.uuid4().hex[:20]}"
        now = self.clock()
        record = {
            "kind": JOB_KIND,
            "request": request.model_dump(exclude_none=True),
            "trigger": trigger,
            "created_at": now,
            "done": 0,
        }
        self.jobs.create(tenant_id, job_id, record, int(now) + JOB_TTL_SECONDS)
        self.queue.send({"kind": JOB_KIND, "tenant_id": tenant_id, "job_id": job_id})
        return TrainingJobAccepted(job_id=job_id, status_url=f"/v1/jobs/{job_id}")

    def schedule(self, tenant_ids: Iterable[str]) -> list[str]:
        """The schedule's run: one job per tenant (each refuses on its own if the tenant has too little history)."""
        return [self.submit(t, TrainingRequest(), trigger="schedule").job_id for t in tenant_ids]

    # ---------------------------------------------------------------- running
    def run(self, tenant_id: str, job_id: str, owner: str) -> str:
        """Run the job if it is ours to run; returns what happened (for logs and tests)."""
        stored = self.jobs.acquire(tenant_id, job_id, owner, LEASE_SECONDS)
        if stored is None:
            return "skipped"  # completed, failed, unknown, or another worker holds it
        record = dict(stored.record)
        record.update(started=True, done=0)
        request = TrainingRequest.model_validate(record.get("request") or {})
        try:
            result = self._run(tenant_id, job_id, owner, record, request)
        except DomainError as refusal:  # too little history, a corrupt serving model: said, not retried
            record.update(error=refusal.message, refused=refusal.code == "insufficient_history")
            record.update(completed_at=self.clock())
            self.jobs.save(tenant_id, job_id, owner, record, status="failed", release=True)
            logger.info("training refused", extra={"tenant_id": tenant_id, "job_id": job_id, "reason": refusal.message})
            return "refused" if record["refused"] else "failed"
        record.update(result=result.model_dump(mode="json"), done=len(STAGES), completed_at=self.clock())
        self.jobs.save(tenant_id, job_id, owner, record, status="completed", release=True)
        if self.events is not None:
            self.events.publish(
                DomainEvent(
                    type="model.trained",
                    tenant_id=tenant_id,
                    data={
                        "job_id": job_id,
                        "version": result.version,
                        "decision": result.decision,
                        "auc_gain": result.comparison.auc_gain,
                        "serving_version": result.comparison.serving_version,
                    },
                )
            )
        return result.decision

    def _stage(self, tenant_id: str, job_id: str, owner: str, record: dict[str, Any], stage: str) -> None:
        record.update(stage=stage, done=STAGES.index(stage))
        self.jobs.save(tenant_id, job_id, owner, record)

    def _run(
        self, tenant_id: str, job_id: str, owner: str, record: dict[str, Any], request: TrainingRequest
    ) -> TrainingResult:
        datasets, registry, serving = self.datasets, self.registry, self.serving
        if datasets is None or registry is None or serving is None:
            raise RuntimeError("training jobs run in the training function, which holds the store and registry")
        self._stage(tenant_id, job_id, owner, record, "dataset")
        policy = self.config.policy
        if request.label_window_days is not None:
            policy = replace(policy, label_window_days=request.label_window_days)
        if self.tenants is not None:
            policy = replace(policy, half_life_days=self.tenants.half_life_days(tenant_id))
        now = datetime.fromtimestamp(self.clock(), UTC)
        dataset = datasets.build(tenant_id, now=now, policy=policy)
        record["dataset"] = dataset.counts
        with tempfile.TemporaryDirectory(prefix="aiqleads-training-", dir=self.config.work_dir) as work:
            data_path = Path(work) / "dataset.parquet"
            data_sha = dataset.write_parquet(data_path)
            version = f"{now:%Y%m%d%H%M%S}-{data_sha[:6]}"
            snapshot_key = artifact_key(tenant_id, version, SNAPSHOT_FILE)  # beside the model it made
            registry.blobs.put_once(snapshot_key, data_path.read_bytes())  # written once, as the model files

            self._stage(tenant_id, job_id, owner, record, "train")
            report = self._train(data_path, Path(work) / "model", version, policy.half_life_days)

            self._stage(tenant_id, job_id, owner, record, "compare")
            current = serving(tenant_id)
            comparison = compare(report, current, self.config.min_auc_gain)

            self._stage(tenant_id, job_id, owner, record, "register")
            files = {name: (report.out_dir / name).read_bytes() for name in ("model.onnx", "manifest.json")}
            lineage = Lineage(
                data_snapshot=snapshot_key,
                data_sha256=data_sha,
                parent_version=current.model_version,
                code_version=self.config.code_version,
            )
            registered = registry.register(tenant_id, files, lineage=lineage, comparison=comparison)

        self._stage(tenant_id, job_id, owner, record, "decide")
        return self._decide(tenant_id, registered.version, comparison, request)

    def _train(self, data: Path, out: Path, version: str, half_life_days: float) -> TrainingReport:
        from aiqleads.features.spec import default_spec
        from aiqleads.training.pipeline import TrainingOptions  # LightGBM: only here, in the training function
        from aiqleads.training.pipeline import train as pipeline_train

        train = self.train or pipeline_train
        options = TrainingOptions(
            label=LABEL_COLUMN,
            id_column="id",
            spec=default_spec().model_copy(update={"half_life_days": half_life_days}),
            version=version,
            split="time",
            time_column="created_at",
            threads=self.config.threads,
        )
        return train(data, out, options)

    def _decide(self, tenant_id: str, version: str, comparison: Comparison, request: TrainingRequest) -> TrainingResult:
        assert self.registry is not None
        figures = (
            f"ROC AUC {comparison.candidate.roc_auc:.4f} against {comparison.serving.roc_auc:.4f} "
            f"({comparison.auc_gain:+.4f}; promotion needs +{comparison.min_auc_gain}), Brier "
            f"{comparison.candidate.brier:.4f} against {comparison.serving.brier:.4f}"
        )
        decision: Decision
        rescore_job_id = None
        if comparison.beats_serving:
            rescore_job_id = self.registry.set_alias(tenant_id, "production", version).rescore_job_id
            decision, reason = "promoted", f"promoted: {figures}"
        else:
            policy = request.challengers or (self.tenants.challengers(tenant_id) if self.tenants else "keep")
            if policy == "shadow":
                self.registry.set_alias(tenant_id, "shadow", version)
                decision, reason = "shadow", f"not better than {comparison.serving_version}, now its shadow: {figures}"
            else:
                decision, reason = "kept", f"registered, not promoted: {figures}"
        return TrainingResult(
            version=version, decision=decision, reason=reason, comparison=comparison, rescore_job_id=rescore_job_id
        )


def training_message(body: str) -> tuple[str, str]:
    """(tenant, job id) of a TrainingQueue message; anything else raises (retried, then dead-lettered)."""
    message = json.loads(body)
    if not isinstance(message, dict) or message.get("kind") != JOB_KIND:
        raise ValueError(f"not a training job message: {body[:200]}")
    for key in ("tenant_id", "job_id"):
        if not isinstance(message.get(key), str):
            raise ValueError(f"training job message without {key!r}")
    return message["tenant_id"], message["job_id"]
