"""What a monitoring run found, as stored and served (`GET /v1/models/{version}/health`, `GET /v1/monitoring/runs`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from aiqleads.monitoring.drift import Drift
from aiqleads.monitoring.performance import Performance

Role = Literal["production", "shadow"]
AlertKind = Literal["drift", "performance", "calibration"]


class ModelHealth(BaseModel):
    """One model over one window: drift of its inputs and score, and how its served probabilities fared."""

    version: str
    role: Role
    leads: int = Field(description="leads created in the window whose current score this model served")
    other_version_leads: int = Field(0, description="window leads last scored by another version (left out)")
    unscored_leads: int = Field(0, description="window leads without a score (left out)")
    psi_max: float | None = Field(description="the largest PSI among the score and the features that can alert")
    psi_max_of: str | None = Field(description="the feature (or `score`) with that PSI")
    features: list[Drift]
    score: Drift | None
    performance: Performance
    training_auc: float | None = Field(description="the held-out ROC AUC training measured")
    auc_drop: float | None = Field(description="training AUC minus live AUC; None without a live AUC")
    baseline: bool = Field(description="whether the model's manifest has a training baseline (else no drift)")


class AlertRecord(BaseModel):
    kind: AlertKind
    model_version: str
    subject: str = Field(description="the feature or figure: a feature name, `score`, `roc_auc` or `grade <X>`")
    value: float
    threshold: float
    sent: bool = Field(description="false when an alert of this kind already went out today for this model")


class MonitorRun(BaseModel):
    id: str
    tenant_id: str
    at: datetime
    window_start: datetime
    window_end: datetime
    production: ModelHealth
    shadow: ModelHealth | None = None
    alerts: list[AlertRecord] = Field(default_factory=list)
    training_job_id: str | None = Field(None, description="the training job an alert started (tenant policy)")


class MonitorRunPage(BaseModel):
    runs: list[MonitorRun]
    next_cursor: str | None = None


class HealthView(BaseModel):
    """`GET /v1/models/{version}/health`: the version's figures from the latest run that watched it."""

    run_id: str
    at: datetime
    window_start: datetime
    window_end: datetime
    health: ModelHealth
    alerts: list[AlertRecord]
