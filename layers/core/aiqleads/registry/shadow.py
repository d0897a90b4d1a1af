"""Shadow scoring: while a tenant's `shadow` alias names a version, each real-time score is also made by that
model and stored beside the production one (never returned, never announced, never indexed), and
`GET /v1/models/{version}` compares the two on the same leads.

A shadow is an experiment: `ShadowScoring.record` runs after the production score is stored and swallows every
error (logged and counted), so a broken shadow never fails a score; its cost on the request is one more model run
(well under a millisecond) and one PutItem.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from aws_lambda_powertools import Logger

from aiqleads.models import Lead, Score
from aiqleads.registry.records import ShadowFigures
from aiqleads.scoring.metrics import roc_auc
from aiqleads.scoring.scorer import Scorer

logger = Logger(child=True)  # under the function's Powertools logger, whatever its service name

MIN_OUTCOMES = 20  # below this, an AUC says more about the sample than about the models


@dataclass(frozen=True, slots=True)
class ShadowPair:
    """One lead scored by both models at the same moment, with the same inputs."""

    lead_id: str
    shadow_version: str
    shadow_probability: float
    shadow_grade: str
    production_version: str
    production_probability: float
    production_grade: str


class ShadowWriter(Protocol):
    def put(self, tenant_id: str, pair: ShadowPair) -> None: ...


class ShadowPairs(Protocol):
    def pairs(self, tenant_id: str, version: str) -> list[ShadowPair]: ...


class OutcomeRecord(Protocol):
    @property
    def lead_id(self) -> str: ...
    @property
    def outcome(self) -> Any: ...
    @property
    def at(self) -> datetime: ...
    @property
    def recorded_at(self) -> datetime: ...


class OutcomeSource(Protocol):
    def outcomes(self, tenant_id: str, since: datetime | None = None) -> Sequence[OutcomeRecord]: ...


@dataclass
class ShadowScoring:
    """Scores a lead with the tenant's shadow model (if any) and stores the pair."""

    resolve: Callable[[str], Scorer | None]  # the tenant -> its shadow model's scorer, or None
    store: ShadowWriter
    failures: int = field(default=0)  # per process; each failure is also logged with `shadow_failed`

    def record(self, tenant_id: str, lead: Lead, signals: Mapping[str, Any] | None, production: Score) -> None:
        try:
            scorer = self.resolve(tenant_id)
            if scorer is None or scorer.model_version == production.model_version:
                return
            shadow = scorer.score_lead(lead, signals)
            self.store.put(
                tenant_id,
                ShadowPair(
                    lead_id=lead.id,
                    shadow_version=shadow.model_version,
                    shadow_probability=shadow.probability,
                    shadow_grade=shadow.grade.value,
                    production_version=production.model_version,
                    production_probability=production.probability,
                    production_grade=production.grade.value,
                ),
            )
        except Exception as exc:  # whatever the shadow does, the production score already stands
            self.failures += 1
            logger.warning(
                "shadow scoring failed; the production score is unaffected",
                extra={"tenant_id": tenant_id, "lead_id": lead.id, "shadow_failed": self.failures, "error": str(exc)},
            )


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 2:
        return None
    dx, dy = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float((dx * dx).sum()) * float((dy * dy).sum()))
    return None if denominator == 0 else float((dx * dy).sum() / denominator)


def compare(
    pairs: Sequence[ShadowPair], converted: Mapping[str, bool], min_outcomes: int = MIN_OUTCOMES
) -> ShadowFigures:
    """The figures over `pairs`; `converted`: each lead's latest known outcome (True = converted)."""
    count = len(pairs)
    production = np.array([p.production_probability for p in pairs], dtype=np.float64)
    shadow = np.array([p.shadow_probability for p in pairs], dtype=np.float64)
    agreement = sum(p.production_grade == p.shadow_grade for p in pairs) / count if count else None
    labelled = [i for i, p in enumerate(pairs) if p.lead_id in converted]
    labels = np.array([converted[pairs[i].lead_id] for i in labelled], dtype=bool)
    note: str | None = None
    production_auc = shadow_auc = None
    if len(labelled) < min_outcomes:
        note = f"not enough outcomes: {len(labelled)} of the {min_outcomes} needed"
    elif labels.all() or not labels.any():
        note = "the outcomes are all of one class: AUC needs conversions and losses"
    else:
        production_auc = round(roc_auc(labels, production[labelled]), 6)
        shadow_auc = round(roc_auc(labels, shadow[labelled]), 6)
    correlation = _pearson(production, shadow)
    return ShadowFigures(
        count=count,
        production_versions=sorted({p.production_version for p in pairs}),
        grade_agreement=None if agreement is None else round(agreement, 6),
        score_correlation=None if correlation is None else round(correlation, 6),
        outcomes=len(labelled),
        min_outcomes=min_outcomes,
        production_roc_auc=production_auc,
        shadow_roc_auc=shadow_auc,
        note=note,
    )


def latest_converted(outcomes: Iterable[OutcomeRecord]) -> dict[str, bool]:
    """Each lead's latest outcome by when it happened (a later report supersedes), as converted or not."""
    latest: dict[str, OutcomeRecord] = {}
    for outcome in outcomes:
        known = latest.get(outcome.lead_id)
        if known is None or (outcome.at, outcome.recorded_at) >= (known.at, known.recorded_at):
            latest[outcome.lead_id] = outcome
    return {lead_id: str(getattr(o.outcome, "value", o.outcome)) == "converted" for lead_id, o in latest.items()}


@dataclass
class ShadowReports:
    """What `GET /v1/models/{version}` shows for a version that has shadowed the tenant's traffic."""

    store: ShadowPairs
    outcomes: OutcomeSource
    min_outcomes: int = MIN_OUTCOMES

    def figures(self, tenant_id: str, version: str) -> ShadowFigures | None:
        pairs = self.store.pairs(tenant_id, version)
        if not pairs:
            return None
        return compare(pairs, latest_converted(self.outcomes.outcomes(tenant_id)), self.min_outcomes)
