"""Scoring: features -> ONNX probability -> 0-100 score, grade and reasons, for one lead or a whole batch; and,
for a model with the two margins, fit, engagement and the matrix grade (`scoring.matrix`)."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from aiqleads.features.columnar import ColumnarFeatures
from aiqleads.features.record import RecordFeatures
from aiqleads.models import Lead, Reason, Score
from aiqleads.monitoring.baseline import InputCodes
from aiqleads.scoring.artifact import ModelArtifact
from aiqleads.scoring.reasons import Chosen, Explainer, Factor
from aiqleads.validation.columnar import ValidatedBatch

GRADE_LETTERS = ("A", "B", "C")


def parse_grades(text: str) -> dict[str, float]:
    """`A=0.4,B=0.2,C=0.1` -> thresholds; they must fall from A to C."""
    thresholds: dict[str, float] = {}
    for part in text.split(","):
        letter, _, value = part.partition("=")
        letter = letter.strip().upper()
        if letter not in GRADE_LETTERS:
            raise ValueError(f"grade thresholds: unknown grade {letter!r}; use A, B and C (D is the rest)")
        try:
            thresholds[letter] = float(value)
        except ValueError:
            raise ValueError(f"grade thresholds: {value!r} is not a number") from None
    missing = [g for g in GRADE_LETTERS if g not in thresholds]
    if missing:
        raise ValueError(f"grade thresholds: missing {', '.join(missing)}")
    values = [thresholds[g] for g in GRADE_LETTERS]
    if not all(0 <= v <= 1 for v in values) or values != sorted(values, reverse=True):
        raise ValueError("grade thresholds must be probabilities with A >= B >= C")
    return thresholds


def to_scores(probabilities: np.ndarray) -> np.ndarray:
    return np.floor(probabilities * 100.0 + 0.5).astype(np.int64)


@functools.lru_cache(maxsize=4096)
def reason(factor: Factor) -> Reason:
    """A model has a few hundred (bin, direction) reasons: each is validated once and then shared."""
    return Reason.model_validate(factor._asdict())


@dataclass(frozen=True, slots=True)
class LeadScore:
    probability: float
    score: int
    grade: str
    factors: list[Factor]
    fit: int | None = None
    engagement: int | None = None
    matrix_grade: str | None = None
    inputs: str | None = None  # each input's baseline bin (monitoring.baseline.InputCodes)

    def to_model(self, lead_id: str, model_version: str) -> Score:
        # pydantic's Rust validator builds this faster than model_construct would.
        score = Score.model_validate(
            {
                "lead_id": lead_id,
                "probability": self.probability,
                "score": self.score,
                "grade": self.grade,
                "fit": self.fit,
                "engagement": self.engagement,
                "matrix_grade": self.matrix_grade,
                "reasons": [reason(factor) for factor in self.factors],
                "model_version": model_version,
            }
        )
        score._inputs = self.inputs
        return score


class Scorer:
    """Everything needed to score with one model; build once, reuse for every lead."""

    def __init__(self, artifact: ModelArtifact, grades: Mapping[str, float] | None = None):
        self.artifact = artifact
        spec = artifact.manifest.feature_spec
        self.spec = spec
        self.record_features = RecordFeatures(spec)
        self.columnar_features = ColumnarFeatures(spec)
        self.explainer = Explainer(artifact.manifest.explanations, spec)
        chosen = dict(grades or artifact.manifest.grades)
        self.thresholds = np.array([chosen[g] for g in GRADE_LETTERS], dtype=np.float64)
        self._cuts = tuple(float(t) for t in self.thresholds)
        self._run = artifact.session.run
        self.matrix = artifact.manifest.matrix if artifact.margins_name else None
        self._output = [artifact.output_name] + (
            [artifact.margins_name] if self.matrix and artifact.margins_name else []
        )
        self._input = artifact.input_name
        baseline = artifact.manifest.baseline
        self.input_codes = InputCodes(baseline, artifact.manifest.feature_names) if baseline is not None else None

    @property
    def model_version(self) -> str:
        return self.artifact.version

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        return self.run(matrix)[0]

    def run(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The probabilities of a [rows, features] matrix, and the [rows, 2] margins when the model has them."""
        outputs = self._run(self._output, {self._input: matrix})
        margins = np.asarray(outputs[1]).reshape(-1, 2) if len(outputs) > 1 else None
        return np.asarray(outputs[0], dtype=np.float64).reshape(-1), margins

    def grade_letters(self, probabilities: np.ndarray) -> np.ndarray:
        a, b, c = self.thresholds
        return np.select(
            [probabilities >= a, probabilities >= b, probabilities >= c],
            ["A", "B", "C"],
            default="D",
        )

    def score_values(self, values: Mapping[str, Any]) -> LeadScore:
        probability, margins, features = self.artifact.run_one(self.record_features.values(values))
        a, b, c = self._cuts
        grade = "A" if probability >= a else "B" if probability >= b else "C" if probability >= c else "D"
        fit = engagement = matrix_grade = None
        if self.matrix is not None and margins is not None:
            fit, engagement, matrix_grade = self.matrix.scores(*margins)
        return LeadScore(
            probability=probability,
            score=math.floor(probability * 100.0 + 0.5),  # the same rounding as to_scores
            grade=grade,
            factors=self.explainer.factors(features),
            fit=fit,
            engagement=engagement,
            matrix_grade=matrix_grade,
            inputs=None if self.input_codes is None else self.input_codes.row(np.asarray(features)),
        )

    def score_lead(self, lead: Lead, signals: Mapping[str, Any] | None = None) -> Score:
        """Score a validated lead with its behaviour aggregates and market signals (absent ones are missing)."""
        values = lead.flat()
        if signals:
            values.update(signals)
        return self.score_values(values).to_model(lead.id, self.model_version)

    def score_batch(self, batch: ValidatedBatch) -> BatchScores:
        """Score the valid rows of a batch: features, probability, score, grade and the chosen reasons."""
        matrix = self.columnar_features.matrix(batch.typed, batch.size)
        if not batch.all_valid:
            matrix = matrix[batch.valid]
        probabilities, margins = self.run(matrix)
        halves = self.matrix.many(margins) if self.matrix is not None and margins is not None else None
        return BatchScores(
            probability=probabilities,
            score=to_scores(probabilities),
            grade=self.grade_letters(probabilities),
            reasons=self.explainer.choose(matrix),
            model_version=self.model_version,
            fit=None if halves is None else halves[0],
            engagement=None if halves is None else halves[1],
            matrix_grade=None if halves is None else halves[2],
            inputs=None if self.input_codes is None else self.input_codes.rows(matrix),
        )


@dataclass(frozen=True, slots=True)
class BatchScores:
    """The scores of a batch's valid rows, in row order."""

    probability: np.ndarray
    score: np.ndarray
    grade: np.ndarray
    reasons: Chosen
    model_version: str
    fit: np.ndarray | None = None
    engagement: np.ndarray | None = None
    matrix_grade: np.ndarray | None = None
    inputs: np.ndarray | None = None  # each row's input codes, fixed-width bytes (monitoring.baseline.InputCodes)

    def __len__(self) -> int:
        return len(self.probability)

    def columns(self, explainer: Explainer) -> dict[str, pa.Array]:
        """The score columns of a results file (reasons as one string per row); fit, engagement and the matrix
        grade are null for a model without them."""
        rows = len(self)
        return {
            "probability": pa.array(self.probability),
            "score": pa.array(self.score),
            "grade": pa.array(self.grade),
            "fit": pa.array(self.fit, type=pa.int64()) if self.fit is not None else pa.nulls(rows, pa.int64()),
            "engagement": (
                pa.array(self.engagement, type=pa.int64())
                if self.engagement is not None
                else pa.nulls(rows, pa.int64())
            ),
            "matrix_grade": (
                pa.array(self.matrix_grade.astype(str), type=pa.string())
                if self.matrix_grade is not None
                else pa.nulls(rows, pa.string())
            ),
            "reasons": explainer.reason_strings(self.reasons),
        }
