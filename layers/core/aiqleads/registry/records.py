"""What the registry stores and shows.

A version belongs to a tenant or, with `tenant` None, to everyone: the global default (the shipped model) is the
global partition's production alias. Aliases point at a (tenant-or-global, version) target, so a tenant's
production alias may name the global default's version: that is how a tenant returns to it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aiqleads.models import Id

Alias = Literal["production", "shadow"]
ALIASES: tuple[Alias, ...] = ("production", "shadow")
MODEL_FILES = ("model.onnx", "manifest.json")
# A version is a path segment of its S3 keys and a sort key suffix: a conservative grammar keeps both unambiguous.
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_VERSION = re.compile(VERSION_PATTERN)
# How many earlier production targets an alias remembers for `rollback`.
HISTORY_LIMIT = 20


def valid_version(version: str) -> bool:
    return bool(_VERSION.match(version))


def version_order(version: str) -> tuple[tuple[int, str], ...]:
    """Numeric parts compare as numbers (1.10.0 after 1.9.0); anything else sorts before them."""
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in version.split("."))


class Lineage(BaseModel):
    """Where a version came from; null where unknown (the shipped model has no parent and no recorded commit)."""

    data_snapshot: str | None = Field(None, description="the training data it was fitted on (a file or a snapshot)")
    data_sha256: str | None = Field(None, description="sha256 of that training data")
    parent_version: str | None = Field(None, description="the version it was derived from or compared against")
    code_version: str | None = Field(None, description="the training code's version (a commit)")


class ArtifactFile(BaseModel):
    key: str = Field(description="its S3 key in the models bucket (written once, never overwritten)")
    sha256: str
    size: int


class Figures(BaseModel):
    """One model's quality on a holdout (aiqleads.scoring.metrics.evaluate)."""

    roc_auc: float
    pr_auc: float
    brier: float
    log_loss: float
    lift_top_decile: float


Decision = Literal["promoted", "shadow", "kept"]


class Comparison(BaseModel):
    """A trained candidate against the model serving the tenant when it was trained, on the same newest leads."""

    serving_version: str = Field(description="the version serving the tenant when the candidate was trained")
    holdout_rows: int = Field(description="the newest labelled leads, held out from training")
    holdout_conversions: int
    holdout_created: list[str | None] = Field(description="the first and last created_at of the holdout rows")
    candidate: Figures
    serving: Figures
    auc_gain: float = Field(description="candidate ROC AUC minus the serving model's")
    brier_change: float = Field(description="candidate Brier score minus the serving model's (lower is better)")
    min_auc_gain: float = Field(description="PromotionMinAucGain: the gain automatic promotion needs")
    beats_serving: bool = Field(description="auc_gain >= min_auc_gain and brier_change <= 0")


class TrainingResult(BaseModel):
    """What a training job did: the candidate it registered, how it compared, and what became of it."""

    version: str
    decision: Decision = Field(
        description="promoted: now production; shadow: the tenant's policy made it the shadow; kept: registered only"
    )
    reason: str
    comparison: Comparison
    rescore_job_id: Id | None = Field(None, description="the rescoring job a promotion started")


class ModelRecord(BaseModel):
    """A registered version: the ModelsTable item's content."""

    model_config = ConfigDict(extra="ignore")

    tenant: str | None = Field(description="the owning tenant; null for the global default")
    version: str
    name: str
    created_at: str | None = Field(None, description="when it was trained (from its manifest)")
    registered_at: datetime
    metrics: dict[str, float]
    training_rows: int | None = None
    features: int
    lineage: Lineage
    files: dict[str, ArtifactFile]
    comparison: Comparison | None = None  # a trained candidate's, against what served when it was trained


class AliasTarget(BaseModel):
    tenant: str | None = Field(description="whose version: the tenant's own, or null for a global one")
    version: str


class AliasState(BaseModel):
    """One alias of one partition: what it points at, and the production targets before it (newest last)."""

    alias: Alias
    target: AliasTarget | None = Field(description="null: cleared (a shadow alias no longer set)")
    updated_at: datetime
    history: list[AliasTarget] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------ the API's views
class ShadowFigures(BaseModel):
    """The shadow version against production on the leads both scored."""

    count: int = Field(description="leads scored by both models (each lead's latest pair)")
    production_versions: list[str] = Field(description="the production versions it was compared with")
    grade_agreement: float | None = Field(description="share of those leads given the same grade by both")
    score_correlation: float | None = Field(
        description="Pearson correlation of the two models' probabilities (null below 2 leads or with no variance)"
    )
    outcomes: int = Field(description="of those leads, how many have a known outcome")
    min_outcomes: int = Field(description="outcomes (with both classes) needed before AUCs are reported")
    production_roc_auc: float | None
    shadow_roc_auc: float | None
    note: str | None = Field(None, description="why the AUCs are null")


class ModelVersion(BaseModel):
    name: str
    version: str
    tenant: str | None = Field(description="the tenant owning this version; null for the global default")
    created_at: str | None = None
    metrics: dict[str, float]
    features: int = Field(description="inputs in the model's feature spec")
    training_rows: int | None = Field(None, description="labelled rows training used (from its manifest)")
    lineage: Lineage
    comparison: Comparison | None = Field(
        None, description="a version trained by a training job: against the model then serving, on its holdout"
    )
    aliases: list[Alias] = Field(description="the caller's aliases naming this version")
    serving: bool = Field(description="the version that scores the caller's leads")
    global_default: bool = Field(False, description="the global default, serving tenants without their own")
    shadow: ShadowFigures | None = Field(
        None,
        description="GET /v1/models/{version} only: this version against production on the leads it shadowed "
        "(null when it has shadowed none)",
    )


class ModelList(BaseModel):
    data: list[ModelVersion]
    serving: str | None = Field(description="the version scoring the caller's leads")


class AliasUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str | None = Field(
        description="a version of the tenant's or the global default's; null clears the shadow alias",
        max_length=64,
    )


class AliasChange(BaseModel):
    alias: Alias
    previous_version: str | None
    version: str | None
    tenant: str
    serving: str | None = Field(description="the version that scores the tenant's leads after the change")
    rescore_job_id: Id | None = Field(
        None,
        description="production moved: the job rescoring the tenant's open leads with it (GET /v1/jobs/{id})",
    )


def training_rows(manifest: dict[str, Any]) -> int | None:
    """The labelled rows training used: `training.rows.used` (what `aiqleads train` writes), or a plain count."""
    rows = (manifest.get("training") or {}).get("rows")
    if isinstance(rows, dict):
        rows = rows.get("used", rows.get("train"))
    return int(rows) if isinstance(rows, int | float) and not isinstance(rows, bool) else None
