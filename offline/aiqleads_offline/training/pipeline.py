"""`aiqleads train`: data -> features -> LightGBM -> calibration -> evaluation -> ONNX (with parity) -> artifact."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import onnxruntime as ort
import pyarrow as pa
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from aiqleads.features.columnar import ColumnarFeatures
from aiqleads.features.spec import FeatureSpec
from aiqleads.files.tabular import TableReader
from aiqleads.scoring.artifact import MANIFEST_FILE, MODEL_FILE, Calibration, Manifest, OnnxInfo, sha256_file
from aiqleads.validation.columnar import validate_batch
from aiqleads.validation.labels import parse_labels
from aiqleads_offline.training.explanations import fit_explanations
from aiqleads_offline.training.fitting import fit_spec
from aiqleads_offline.training.inference_spec import DroppedColumn, infer_spec
from aiqleads_offline.training.onnx_export import INPUT_NAME, OUTPUT_NAME, export_onnx

log = logging.getLogger(__name__)

MIN_PER_OUTCOME = 40
PARITY_TOLERANCE = 1e-4
GRADE_SHARES = {"A": 0.10, "B": 0.20, "C": 0.30}  # of held-out leads, best first; D is the rest


class TrainingError(RuntimeError):
    """Training stopped rather than ship a bad model; the message says why and what to do."""


@dataclass(frozen=True)
class TrainingOptions:
    label: str
    id_column: str | None = None
    spec: FeatureSpec | None = None
    exclude: tuple[str, ...] = ()
    version: str | None = None
    name: str = "lead_scorer"
    seed: int = 7
    # 60 x 15 matches 80 x 15 and 150 x 15 within 0.001 ROC AUC on generated data, at 60% of the inference cost.
    trees: int = 60
    leaves: int = 15
    learning_rate: float = 0.1
    min_leaf_rows: int = 40
    test_share: float = 0.2
    calibration_share: float = 0.2
    threads: int = 2


@dataclass
class TrainingReport:
    out_dir: Path
    version: str
    metrics: dict[str, float]
    rows: dict[str, int]
    dropped_columns: list[DroppedColumn] = field(default_factory=list)
    invalid_examples: list[dict[str, Any]] = field(default_factory=list)
    parity_max_abs_diff: float = 0.0


def _split(labels: np.ndarray, options: TrainingOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified random split into train, calibration and test row indices."""
    rng = np.random.default_rng(options.seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for outcome in (0, 1):
        rows = rng.permutation(np.flatnonzero(labels == outcome))
        n_test = round(len(rows) * options.test_share)
        n_cal = round((len(rows) - n_test) * options.calibration_share)
        parts[0].append(rows[n_test + n_cal :])
        parts[1].append(rows[n_test : n_test + n_cal])
        parts[2].append(rows[:n_test])
    train, calibration, test = (np.sort(np.concatenate(p)) for p in parts)
    return train, calibration, test


def _take(columns: dict[str, pa.Array], rows: np.ndarray) -> dict[str, pa.Array]:
    indices = pa.array(rows)
    return {name: column.take(indices) for name, column in columns.items()}


def lift_top_decile(labels: np.ndarray, probabilities: np.ndarray) -> float:
    top = np.argsort(-probabilities, kind="stable")[: max(1, len(labels) // 10)]
    base = labels.mean()
    return float(labels[top].mean() / base) if base > 0 else math.nan


def evaluate(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": round(float(roc_auc_score(labels, probabilities)), 6),
        "pr_auc": round(float(average_precision_score(labels, probabilities)), 6),
        "brier": round(float(brier_score_loss(labels, probabilities)), 6),
        "log_loss": round(float(log_loss(labels, probabilities, labels=[0, 1])), 6),
        "lift_top_decile": round(lift_top_decile(labels, probabilities), 4),
        "base_rate": round(float(labels.mean()), 6),
    }


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def _library_versions() -> dict[str, str]:
    names = ("lightgbm", "scikit-learn", "onnx", "onnxmltools", "onnxruntime", "numpy", "pyarrow", "pydantic")
    return {name: metadata.version(name) for name in names}


def _check_history(labels: np.ndarray) -> None:
    positives, negatives = int(labels.sum()), int(len(labels) - labels.sum())
    if positives < MIN_PER_OUTCOME or negatives < MIN_PER_OUTCOME:
        raise TrainingError(
            f"too little history to train a trustworthy model: {positives} converted and {negatives} "
            f"not converted leads; at least {MIN_PER_OUTCOME} of each are needed"
        )


@dataclass
class _Labelled:
    """The training table's rows that carry a label, and how many did not."""

    reader: TableReader
    table: pa.Table
    labels: np.ndarray
    without_label: int


@dataclass
class _Fit:
    booster: lgb.Booster
    params: dict[str, Any]
    calibration: Calibration


@dataclass
class _Held:
    """The exported model checked on held-out rows: its probabilities there and the parity with the trees."""

    onnx_model: Any
    p_onnx: np.ndarray
    raw_test: np.ndarray
    parity: float


def _read_labelled(data: Path, options: TrainingOptions) -> _Labelled:
    reader = TableReader(data)
    table = reader.read_all()
    if options.label not in table.column_names:
        raise TrainingError(f"{data}: no label column {options.label!r}; columns are {table.column_names}")
    if options.id_column and options.id_column not in table.column_names:
        raise TrainingError(f"{data}: no id column {options.id_column!r}")
    labels, has_label = parse_labels(table.column(options.label).combine_chunks(), options.label)
    _check_history(labels[has_label])
    return _Labelled(reader, table.filter(pa.array(has_label)), labels[has_label], int((~has_label).sum()))


def _resolve_spec(table: pa.Table, options: TrainingOptions) -> tuple[FeatureSpec, list[DroppedColumn]]:
    if options.spec is None:
        return infer_spec(table, options.label, options.id_column, options.exclude)
    spec = options.spec
    excluded = [f.name for f in spec.features if set(f.inputs) & set(options.exclude)]
    if not excluded:
        return spec, []
    spec = spec.model_copy(update={"features": [f for f in spec.features if f.name not in excluded]})
    return spec, [DroppedColumn(c, "excluded on request") for c in options.exclude]


def _booster_params(options: TrainingOptions) -> dict[str, Any]:
    return {
        "objective": "binary",
        "num_leaves": options.leaves,
        "learning_rate": options.learning_rate,
        "min_data_in_leaf": options.min_leaf_rows,
        "feature_fraction": 0.9,
        "lambda_l2": 1.0,
        "max_cat_to_onehot": 8,
        "cat_smooth": 10.0,
        "seed": options.seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": options.threads,
        "verbose": -1,
    }


def _fit(
    fitted: FeatureSpec,
    design: np.ndarray,
    labels: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray],
    options: TrainingOptions,
) -> _Fit:
    """LightGBM on the train rows, then Platt scaling of its raw score on the separate calibration rows."""
    train_rows, calibration_rows = rows
    params = _booster_params(options)
    categorical = [j for j, f in enumerate(fitted.features) if f.transform == "category"]
    dataset = lgb.Dataset(
        design[train_rows],
        labels[train_rows],
        feature_name=fitted.names,
        categorical_feature=categorical,
        free_raw_data=False,
    )
    booster = lgb.train(params, dataset, num_boost_round=options.trees)
    raw_calibration = np.asarray(booster.predict(design[calibration_rows], raw_score=True))
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(raw_calibration.reshape(-1, 1), labels[calibration_rows])
    calibration = Calibration(slope=float(platt.coef_[0][0]), intercept=float(platt.intercept_[0]))
    return _Fit(booster, params, calibration)


def _export_with_parity(fit: _Fit, width: int, matrix: np.ndarray, design: np.ndarray, test_rows: np.ndarray) -> _Held:
    """The ONNX model, refused unless it gives the trained model's probabilities on the held-out rows."""
    onnx_model = export_onnx(fit.booster, width, fit.calibration.slope, fit.calibration.intercept)
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    p_onnx = np.asarray(session.run([OUTPUT_NAME], {INPUT_NAME: matrix[test_rows]})[0], dtype=np.float64)
    raw_test = np.asarray(fit.booster.predict(design[test_rows], raw_score=True))
    p_trained = _sigmoid(fit.calibration.slope * raw_test + fit.calibration.intercept)
    parity = float(np.max(np.abs(p_onnx - p_trained))) if len(test_rows) else 0.0
    if not parity <= PARITY_TOLERANCE:
        raise TrainingError(
            f"ONNX export does not reproduce the trained model: max |p_onnx - p_trained| = {parity:.3g} "
            f"> {PARITY_TOLERANCE} on {len(test_rows)} held-out rows; the model was not written"
        )
    return _Held(onnx_model, p_onnx, raw_test, parity)


def _held_out_metrics(labels: np.ndarray, held: _Held) -> dict[str, float]:
    metrics = evaluate(labels, held.p_onnx)
    metrics["brier_uncalibrated"] = round(float(brier_score_loss(labels, _sigmoid(held.raw_test))), 6)
    metrics["parity_max_abs_diff"] = held.parity
    return metrics


def _grade_thresholds(probabilities: np.ndarray) -> dict[str, float]:
    cumulative, grades = 0.0, {}
    for letter, share in GRADE_SHARES.items():
        cumulative += share
        grades[letter] = round(float(np.quantile(probabilities, 1 - cumulative)), 6)
    return grades


def _row_counts(
    source: _Labelled, valid: np.ndarray, labels: np.ndarray, splits: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> dict[str, int]:
    train_rows, calibration_rows, test_rows = splits
    return {
        "input": len(source.labels) + source.without_label,
        "without_label": source.without_label,
        "invalid": int((~valid).sum()),
        "used": len(labels),
        "train": len(train_rows),
        "calibration": len(calibration_rows),
        "test": len(test_rows),
        "positives": int(labels.sum()),
        "unreadable": len(source.reader.unreadable),
    }


def _lineage(
    data: Path,
    data_sha: str,
    options: TrainingOptions,
    rows: dict[str, int],
    params: dict[str, Any],
    dropped: list[DroppedColumn],
) -> dict[str, Any]:
    """What the model was trained on and how: the manifest's `training` section."""
    return {
        "data_file": data.name,
        "data_sha256": data_sha,
        "label": options.label,
        "id_column": options.id_column,
        "rows": rows,
        "split": {"method": "stratified random", "seed": options.seed, "test_share": options.test_share},
        "params": {**params, "num_boost_round": options.trees},
        "dropped_columns": [{"column": d.column, "reason": d.reason} for d in dropped],
        "library_versions": _library_versions(),
    }


def train(data: Path, out_dir: Path, options: TrainingOptions) -> TrainingReport:
    source = _read_labelled(data, options)
    spec, dropped = _resolve_spec(source.table, options)
    batch = validate_batch(source.table, spec)
    labels = source.labels[batch.valid]
    _check_history(labels)
    columns = batch.columns()
    train_rows, calibration_rows, test_rows = _split(labels, options)

    fitted = fit_spec(spec, _take(columns, train_rows), labels[train_rows])
    matrix = ColumnarFeatures(fitted).matrix(columns, len(labels))
    # Trees see exactly the float32 values ONNX will see.
    design = matrix.astype(np.float64)
    fit = _fit(fitted, design, labels, (train_rows, calibration_rows), options)
    held = _export_with_parity(fit, len(fitted.names), matrix, design, test_rows)
    metrics = _held_out_metrics(labels[test_rows], held)

    sample = train_rows[:20_000]
    contributions = np.asarray(fit.booster.predict(design[sample], pred_contrib=True))[:, :-1] * fit.calibration.slope
    explanations = fit_explanations(fitted, matrix[sample], contributions)

    data_sha = sha256_file(data)
    version = options.version or f"{datetime.now(UTC):%Y%m%d}-{data_sha[:8]}"
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    model_path.write_bytes(held.onnx_model.SerializeToString())
    rows = _row_counts(source, batch.valid, labels, (train_rows, calibration_rows, test_rows))
    manifest = Manifest(
        name=options.name,
        version=version,
        created_at=datetime.now(UTC).replace(microsecond=0),
        feature_spec=fitted,
        feature_names=fitted.names,
        onnx=OnnxInfo(sha256=sha256_file(model_path), input_name=INPUT_NAME, output_name=OUTPUT_NAME),
        calibration=fit.calibration,
        grades=_grade_thresholds(held.p_onnx),
        metrics=metrics,
        training=_lineage(data, data_sha, options, rows, fit.params, dropped),
        explanations=explanations,
    )
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest.model_dump(mode="json", by_alias=True), indent=1) + "\n")
    return TrainingReport(
        out_dir=out_dir,
        version=version,
        metrics=metrics,
        rows=rows,
        dropped_columns=dropped,
        invalid_examples=[e.as_dict() for e in batch.errors[:5]],
        parity_max_abs_diff=held.parity,
    )
