"""A monitoring run: one tenant's serving model (and its shadow) over a window, against the training baseline.

- **Drift.** The window is the leads created in its days (TenantIndex, a page at a time, with their score items).
  A score item written by a model with a training baseline records the bin each input fell in (`inputs`,
  `monitoring.baseline.InputCodes`), so the run counts what the model saw when it scored, including the behaviour
  and market columns a bulk file carried, without featurising anything again; the probability is the one served.
  Leads last scored by another version are counted apart (`other_version_leads`), not mixed in. The shadow's
  score drift comes from its stored pairs (shadow scoring stores no inputs: they are production's leads).
- **Live performance.** Each outcome recorded in the window is set against the probability the model served for
  that lead: the score item's, when the serving version wrote it, and the shadow's stored pair for the shadow.
  Served, not recomputed: behaviour recorded after the outcome would flatter a recomputed score.
- **Alerts** (the production model's only: a shadow is an experiment nobody is paged for) go to the alerts topic,
  at most one per tenant, model and kind a day (a conditional mark in MonitoringTable claims the day; a publish
  that fails gives the claim back and fails the job, so the retry sends it). With the tenant's `retrain_on_alert`,
  an alert that went out also queues a training job.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from aiqleads.models import LeadOutcome, Outcome, latest_outcomes
from aiqleads.monitoring.baseline import Baseline, Bins
from aiqleads.monitoring.drift import ACT, Drift, drift, drift_of_counts, not_alerting
from aiqleads.monitoring.performance import MIN_OUTCOMES, Performance, performance
from aiqleads.monitoring.report import AlertKind, AlertRecord, ModelHealth, MonitorRun, Role
from aiqleads.notifications.alerts import Alert, AlertSink
from aiqleads.registry.shadow import ShadowPair
from aiqleads.scoring.scorer import Scorer
from aiqleads.training.jobs import TrainingJobAccepted, TrainingRequest

if TYPE_CHECKING:
    from aiqleads.storage.open_leads import ServedScore, StoredLead

PAGE_ROWS = 1000
DEFAULT_WINDOW_DAYS = 7
DEFAULT_AUC_DROP = 0.05


class WindowLeads(Protocol):
    def page(
        self, tenant_id: str, since: datetime, limit: int, after: dict[str, str] | None = None
    ) -> tuple[list[StoredLead], dict[str, str] | None]: ...


class Outcomes(Protocol):
    def outcomes(self, tenant_id: str, since: datetime | None = None) -> Sequence[LeadOutcome]: ...


class Served(Protocol):
    def served(self, tenant_id: str, lead_ids: Sequence[str]) -> dict[str, ServedScore]: ...


class ShadowPairs(Protocol):
    def pairs(self, tenant_id: str, version: str) -> list[ShadowPair]: ...


class Models(Protocol):
    def scorer(self, tenant_id: str) -> Scorer: ...
    def shadow(self, tenant_id: str) -> Scorer | None: ...


class Runs(Protocol):
    def save(self, run: MonitorRun) -> None: ...
    def mark_alert(self, tenant_id: str, version: str, kind: AlertKind, at: datetime) -> bool: ...
    def unmark_alert(self, tenant_id: str, version: str, kind: AlertKind, at: datetime) -> None: ...


class Policies(Protocol):
    def retrain_on_alert(self, tenant_id: str) -> bool: ...


class Training(Protocol):
    def submit(self, tenant_id: str, request: TrainingRequest, *, trigger: str = "request") -> TrainingJobAccepted: ...


@dataclass(frozen=True)
class MonitorConfig:
    window_days: int = DEFAULT_WINDOW_DAYS
    min_outcomes: int = MIN_OUTCOMES
    auc_drop: float = DEFAULT_AUC_DROP  # template.yaml: AlertAucDrop
    page_rows: int = PAGE_ROWS


@dataclass
class _Window:
    """What the window's score items say a model served: each lead's input codes and probability."""

    version: str
    inputs: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    other_versions: int = 0
    unscored: int = 0

    def add(self, leads: Sequence[StoredLead], width: int | None) -> None:
        for lead in leads:
            if lead.probability is None:
                self.unscored += 1
            elif lead.model_version != self.version:
                self.other_versions += 1
            else:
                self.probabilities.append(lead.probability)
                if lead.inputs is not None and len(lead.inputs) == width:
                    self.inputs.append(lead.inputs)


@dataclass
class Monitor:
    models: Models
    leads: WindowLeads
    outcomes: Outcomes
    served: Served
    shadow_pairs: ShadowPairs
    runs: Runs
    alerts: AlertSink
    policies: Policies | None = None
    training: Training | None = None  # where an alert's training job goes (the tenant's `retrain_on_alert`)
    config: MonitorConfig = field(default_factory=MonitorConfig)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    observe: Callable[[MonitorRun], None] | None = None  # the function's metrics

    def run(self, tenant_id: str, run_id: str | None = None) -> MonitorRun:
        now = self.clock()
        since = now - timedelta(days=self.config.window_days)
        production = self.models.scorer(tenant_id)
        shadow = self.models.shadow(tenant_id)
        if shadow is not None and shadow.model_version == production.model_version:
            shadow = None
        window, window_ids = self._read_window(tenant_id, since, production)
        labelled = self._labelled(tenant_id, since)
        run = MonitorRun(
            id=run_id or f"mon-{uuid.uuid4().hex[:20]}",
            tenant_id=tenant_id,
            at=now,
            window_start=since,
            window_end=now,
            production=self._health(production, window, "production", self._served(tenant_id, labelled), labelled),
        )
        if shadow is not None:
            pairs = {p.lead_id: p for p in self.shadow_pairs.pairs(tenant_id, shadow.model_version)}
            shadow_window = _Window(shadow.model_version)
            shadow_window.probabilities = [pairs[i].shadow_probability for i in window_ids if i in pairs]
            served = {i: (pairs[i].shadow_probability, pairs[i].shadow_grade) for i in labelled if i in pairs}
            run.shadow = self._health(shadow, shadow_window, "shadow", served, labelled)
        run.alerts = self._alert(run)
        if self._retrains(tenant_id, run) and self.training is not None:
            run.training_job_id = self.training.submit(tenant_id, TrainingRequest(), trigger="alert").job_id
        self.runs.save(run)
        if self.observe is not None:
            self.observe(run)
        return run

    def _retrains(self, tenant_id: str, run: MonitorRun) -> bool:
        sent = any(alert.sent for alert in run.alerts)
        return sent and self.policies is not None and self.policies.retrain_on_alert(tenant_id)

    # ---------------------------------------------------------------- reading
    def _read_window(self, tenant_id: str, since: datetime, scorer: Scorer) -> tuple[_Window, list[str]]:
        window = _Window(scorer.model_version)
        width = len(scorer.artifact.manifest.feature_names)
        ids: list[str] = []
        after: dict[str, str] | None = None
        while True:
            page, after = self.leads.page(tenant_id, since, self.config.page_rows, after)
            window.add(page, width)
            ids += [lead.lead_id for lead in page]
            if after is None:
                return window, ids

    def _labelled(self, tenant_id: str, since: datetime) -> dict[str, int]:
        """Each lead with an outcome recorded in the window: 1 converted, 0 lost (its latest outcome)."""
        recorded = [o for o in self.outcomes.outcomes(tenant_id, since) if o.recorded_at >= since]
        return {lead: int(o.outcome == Outcome.CONVERTED) for lead, o in latest_outcomes(recorded).items()}

    def _served(self, tenant_id: str, labelled: dict[str, int]) -> dict[str, tuple[float, str]]:
        """The production model's served probability and grade of each labelled lead it scored last."""
        version = self.models.scorer(tenant_id).model_version
        served = self.served.served(tenant_id, list(labelled))
        return {lead: (s.probability, s.grade) for lead, s in served.items() if s.model_version == version}

    # ---------------------------------------------------------------- figures
    def _health(
        self,
        scorer: Scorer,
        window: _Window,
        role: Role,
        served: dict[str, tuple[float, str]],
        labels: dict[str, int],
    ) -> ModelHealth:
        manifest = scorer.artifact.manifest
        baseline: Baseline | None = manifest.baseline
        features: list[Drift] = []
        score: Drift | None = None
        if baseline is not None and window.inputs and scorer.input_codes is not None:
            counts, missing = scorer.input_codes.counts(window.inputs)
            specs = {feature.name: feature for feature in manifest.feature_spec.features}
            features = []
            for column, name in enumerate(manifest.feature_names):
                found = drift_of_counts(name, baseline.features[name], counts[column], int(missing[column]))
                spec = specs.get(name)
                note = None if spec is None else not_alerting(spec.part, spec.source, self.config.window_days)
                features.append(found if note is None else found.model_copy(update={"alerting": False, "note": note}))
        if baseline is not None and window.probabilities:
            score = drift("score", baseline.probability, np.asarray(window.probabilities))
        alerting = [d for d in [*features, *([score] if score else [])] if d.alerting]
        worst = max(alerting, key=lambda d: d.psi, default=None)
        labelled = {lead: labels[lead] for lead in served}
        figures = self._performance(baseline, served, labelled)
        training_auc = (baseline.roc_auc if baseline else None) or manifest.metrics.get("roc_auc")
        live = figures.roc_auc.value
        return ModelHealth(
            version=scorer.model_version,
            role=role,
            leads=len(window.probabilities),
            other_version_leads=window.other_versions,
            unscored_leads=window.unscored,
            psi_max=None if worst is None else worst.psi,
            psi_max_of=None if worst is None else worst.name,
            features=features,
            score=score,
            performance=figures,
            training_auc=training_auc,
            auc_drop=None if live is None or training_auc is None else round(training_auc - live, 6),
            baseline=baseline is not None,
        )

    def _performance(
        self,
        baseline: Baseline | None,
        served: dict[str, tuple[float, str]],
        labelled: dict[str, int],
    ) -> Performance:
        leads = list(labelled)
        labels = np.array([labelled[lead] for lead in leads], dtype=np.float64)
        probabilities = np.array([served[lead][0] for lead in leads], dtype=np.float64)
        grades = [served[lead][1] for lead in leads]
        deciles = baseline.probability if baseline is not None else _deciles(probabilities)
        return performance(labels, probabilities, grades, deciles, self.config.min_outcomes)

    # ---------------------------------------------------------------- alerts
    def _alert(self, run: MonitorRun) -> list[AlertRecord]:
        health = run.production
        found: list[tuple[AlertRecord, str, dict[str, Any]]] = []
        watched = [*health.features, *([health.score] if health.score else [])]
        acting = [d for d in watched if d.band == "act" and d.alerting]
        if acting:
            worst = max(acting, key=lambda d: d.psi)
            record = AlertRecord(
                kind="drift",
                model_version=health.version,
                subject=worst.name,
                value=worst.psi,
                threshold=ACT,
                sent=False,
            )
            names = ", ".join(f"{d.name} {d.psi:.2f}" for d in sorted(acting, key=lambda d: -d.psi)[:5])
            found.append(
                (
                    record,
                    f"drift on {len(acting)} input(s) of model {health.version}: {names}",
                    {"drifted": [{"name": d.name, "psi": d.psi} for d in acting]},
                )
            )
        live, trained = health.performance.roc_auc.value, health.training_auc
        if live is not None and trained is not None and trained - live > self.config.auc_drop:
            record = AlertRecord(
                kind="performance",
                model_version=health.version,
                subject="roc_auc",
                value=live,
                threshold=round(trained - self.config.auc_drop, 6),
                sent=False,
            )
            summary = f"live ROC AUC {live:.3f} of model {health.version}, trained at {trained:.3f}"
            found.append((record, summary, {"training_auc": trained, "outcomes": health.performance.roc_auc.outcomes}))
        off = [g for g in health.performance.by_grade if g.in_band is False and g.band is not None]
        if off:
            grade = off[0]
            assert grade.observed is not None
            assert grade.band is not None
            bound = grade.band[0] if grade.observed < grade.band[0] else grade.band[1]
            record = AlertRecord(
                kind="calibration",
                model_version=health.version,
                subject=f"grade {grade.label}",
                value=grade.observed,
                threshold=bound,
                sent=False,
            )
            summary = (
                f"grade {grade.label} of model {health.version} converts at {grade.observed:.1%}, "
                f"expected {grade.expected:.1%}"
            )
            found.append((record, summary, {"grades": [g.model_dump() for g in off]}))
        return [self._send(run, record, summary, extra) for record, summary, extra in found]

    def _send(self, run: MonitorRun, record: AlertRecord, summary: str, extra: dict[str, Any]) -> AlertRecord:
        if not self.runs.mark_alert(run.tenant_id, record.model_version, record.kind, run.at):
            return record  # today's alert of this kind went out already
        alert = Alert(
            type=f"model.{record.kind}",
            severity="warning",
            tenant_id=run.tenant_id,
            summary=summary[:200],
            details={
                "kind": record.kind,
                "model_version": record.model_version,
                "subject": record.subject,
                "value": record.value,
                "threshold": record.threshold,
                "run_id": run.id,
                "window_start": run.window_start.isoformat(),
                "window_end": run.window_end.isoformat(),
                **extra,
            },
        )
        try:
            self.alerts.publish(alert)
        except BaseException:
            self.runs.unmark_alert(run.tenant_id, record.model_version, record.kind, run.at)
            raise
        return record.model_copy(update={"sent": True})


def emit_figures(run: MonitorRun) -> None:
    """The production model's figures as metrics (ModelPsiMax, ModelLiveAuc, ModelLiveAucDrop: the alarms'),
    flushed with the function's other metrics at the end of the invocation."""
    from aiqleads import telemetry

    health = run.production
    telemetry.model_figures(health.psi_max, health.performance.roc_auc.value, health.training_auc)


def _deciles(probabilities: np.ndarray) -> Bins:
    """A model without a baseline: deciles of what it served, so the calibration table still reads."""
    return Bins.fit(probabilities if len(probabilities) else np.array([math.nan]))
