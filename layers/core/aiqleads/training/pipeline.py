"""`aiqleads train`: data -> features -> LightGBM -> calibration -> evaluation -> ONNX (with parity) -> artifact."""

from __future__ import annotations

import os

# LightGBM's OpenMP threads spin while they wait for each other by default. On a host whose cores are shared (a CI
# runner, a workstation doing other work), a spinning thread holds a core the other one needs, and every tree waits
# for the scheduler: 60 trees on 25,000 rows took 9.2 s with 2 threads instead of 0.3 s on this 2-core machine.
# Passive waiting costs nothing measurable when the cores are free. It must be set before OpenMP starts, i.e.
# before lightgbm and scikit-learn load; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.compute as pc

from aiqleads.features.columnar import ColumnarFeatures
from aiqleads.features.spec import FeatureSpec
from aiqleads.files.tabular import TableReader
from aiqleads.monitoring.baseline import Baseline
from aiqleads.scoring.artifact import MANIFEST_FILE, MODEL_FILE, Calibration, Manifest, OnnxInfo, sha256_file
from aiqleads.scoring.matrix import Curve, Matrix
from aiqleads.scoring.metrics import brier, evaluate, platt, sigmoid
from aiqleads.training.explanations import fit_explanations
from aiqleads.training.fitting import fit_spec
from aiqleads.training.inference_spec import DroppedColumn, infer_spec
from aiqleads.training.onnx_export import INPUT_NAME, MARGINS_NAME, OUTPUT_NAME, export_onnx
from aiqleads.validation.columnar import validate_batch
from aiqleads.validation.labels import parse_labels

log = logging.getLogger(__name__)

MIN_PER_OUTCOME = 40
PARITY_TOLERANCE = 1e-4
GRADE_SHARES = {"A": 0.10, "B": 0.20, "C": 0.30}  # of held-out leads, best first; D is the rest
# Candidate leaf counts, chosen on the validation rows. Fewer leaves serve a small or noisy export; more, a large one.
LEAF_GRID = (7, 15, 31)
# The leaf grid is fitted on at most this many fit rows: on a large table the choice is as clear on a sample, and a
# full-size fit per candidate would triple the training time.
GRID_ROWS = 25_000
Split = Literal["auto", "time", "random"]


class TrainingError(RuntimeError):
    """Training stopped rather than ship a bad model; the message says why and what to do."""


@dataclass(frozen=True)
class TrainingOptions:
    label: str
    id_column: str | None = None
    spec: FeatureSpec | None = None
    exclude: tuple[str, ...] = ()
    # Columns to use although they look like personal identifiers (inferred specs only).
    include: tuple[str, ...] = ()
    version: str | None = None
    name: str = "lead_scorer"
    seed: int = 7
    # None: chosen on the validation rows (trees by early stopping on its log loss, leaves from LEAF_GRID). A number
    # fixes it; the shipped 2.0.0 is 60 x 15 on a random split (make model).
    trees: int | None = None
    leaves: int | None = None
    max_trees: int = 1000
    # Rounds without a better validation log loss before stopping: enough to ride out noise at learning rate 0.1.
    early_stopping_rounds: int = 20
    learning_rate: float = 0.1
    min_leaf_rows: int = 40
    test_share: float = 0.2
    # Of the rows left after the test rows: early stopping, the leaf choice and calibration.
    validation_share: float = 0.2
    # "auto": by time when the data has a timestamp (fit on the oldest, validate on newer, test on the newest rows),
    # else stratified random.
    split: Split = "auto"
    time_column: str | None = None
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
    split: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)
    # The newest rows, held out: as read (so another model can score them), their labels, and this model's
    # probabilities there. A champion/challenger comparison scores the serving model on exactly these.
    holdout: pa.Table | None = None
    holdout_labels: np.ndarray | None = None
    holdout_probabilities: np.ndarray | None = None


def _split(labels: np.ndarray, options: TrainingOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified random split into train, validation and test row indices."""
    rng = np.random.default_rng(options.seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for outcome in (0, 1):
        rows = rng.permutation(np.flatnonzero(labels == outcome))
        n_test = round(len(rows) * options.test_share)
        n_cal = round((len(rows) - n_test) * options.validation_share)
        parts[0].append(rows[n_test + n_cal :])
        parts[1].append(rows[n_test : n_test + n_cal])
        parts[2].append(rows[:n_test])
    train, validation, test = (np.sort(np.concatenate(p)) for p in parts)
    return train, validation, test


def _time_split(moments: np.ndarray, options: TrainingOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train on the oldest rows, validate on newer ones, test on the newest: how the model will be used, on leads
    that arrive after it was trained. `moments`: int64 microseconds, the minimum int64 where unknown. Rows without
    a time cannot be placed among the newest, so they train."""
    known = np.flatnonzero(moments != np.iinfo(np.int64).min)
    order = known[np.argsort(moments[known], kind="stable")]
    n_test = round(len(moments) * options.test_share)
    n_validation = round((len(moments) - n_test) * options.validation_share)
    if n_test + n_validation > len(order):
        raise TrainingError(f"too few rows with a time to split by time: {len(order)} of {len(moments)}")
    cut = len(order) - n_test - n_validation
    unknown = np.flatnonzero(moments == np.iinfo(np.int64).min)
    train = np.sort(np.concatenate([order[:cut], unknown]))
    return train, np.sort(order[cut : cut + n_validation]), np.sort(order[cut + n_validation :])


def _time_column(spec: FeatureSpec, options: TrainingOptions) -> str | None:
    """The timestamp to split on: the one named, else `created_at`, else the spec's only date-time input."""
    if options.split == "random":
        return None
    times = [name for name, kind in spec.inputs.items() if kind == "datetime"]
    if options.time_column:
        if options.time_column not in times:
            raise TrainingError(f"--time-column {options.time_column!r} is not a date-time input; those are {times}")
        return options.time_column
    chosen = "created_at" if "created_at" in times else (times[0] if len(times) == 1 else None)
    if chosen is None and options.split == "time":
        raise TrainingError(f"--split time needs one date-time column (--time-column); date-time inputs: {times}")
    return chosen


def _moments(column: pa.Array) -> np.ndarray:
    micros = pc.cast(pc.cast(column, pa.timestamp("us", tz="UTC")), pa.int64())
    return np.asarray(pc.fill_null(micros, np.iinfo(np.int64).min).to_numpy(zero_copy_only=False), dtype=np.int64)


def _split_rows(
    spec: FeatureSpec, columns: dict[str, pa.Array], labels: np.ndarray, options: TrainingOptions
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], dict[str, Any]]:
    """Train, validation and test rows, and how they were chosen (for the report and the manifest)."""
    time_column = _time_column(spec, options)
    if time_column is None:
        rows = _split(labels, options)
        return rows, {"method": "stratified random", "seed": options.seed, "test_share": options.test_share}
    moments = _moments(columns[time_column])
    rows = _time_split(moments, options)

    def span(part: np.ndarray) -> list[str]:
        known = moments[part][moments[part] != np.iinfo(np.int64).min]
        return [f"{np.datetime64(int(m), 'us').astype('datetime64[s]')}Z" for m in (known.min(), known.max())]

    return rows, {
        "method": "time",
        "time_column": time_column,
        "test_share": options.test_share,
        "validation_share": options.validation_share,
        "train_without_time": int((moments[rows[0]] == np.iinfo(np.int64).min).sum()),
        "train_span": span(rows[0]),
        "validation_span": span(rows[1]),
        "test_span": span(rows[2]),
    }


def _take(columns: dict[str, pa.Array], rows: np.ndarray) -> dict[str, pa.Array]:
    indices = pa.array(rows)
    return {name: column.take(indices) for name, column in columns.items()}


def _library_versions() -> dict[str, str]:
    names = ("lightgbm", "onnx", "onnxmltools", "onnxruntime", "numpy", "pyarrow", "pydantic")
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
    selection: dict[str, Any]


@dataclass
class _Held:
    """The exported model checked on held-out rows: its probabilities there and the parity with the trees."""

    onnx_model: Any
    p_onnx: np.ndarray
    raw_test: np.ndarray
    parity: float
    session: Any


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
        return infer_spec(table, options.label, options.id_column, options.exclude, options.include)
    if options.include:
        raise TrainingError("--include applies to an inferred spec; a given spec already names its inputs")
    spec = options.spec
    excluded = [f.name for f in spec.features if set(f.inputs) & set(options.exclude)]
    if not excluded:
        return spec, []
    spec = spec.model_copy(update={"features": [f for f in spec.features if f.name not in excluded]})
    return spec, [DroppedColumn(c, "excluded on request", "excluded") for c in options.exclude]


def _booster_params(options: TrainingOptions, leaves: int) -> dict[str, Any]:
    return {
        "objective": "binary",
        "num_leaves": leaves,
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


class _Design:
    """The feature matrix and labels, and what LightGBM needs to know about its columns."""

    def __init__(self, fitted: FeatureSpec, design: np.ndarray, labels: np.ndarray):
        self.design, self.labels, self.names = design, labels, fitted.names
        self.categorical = [j for j, f in enumerate(fitted.features) if f.transform == "category"]
        # Behaviour only ever raises (or, declared so, lowers) the score, and fit and engagement features never
        # share a tree: the model's log-odds is then a fit part plus an engagement part (scoring.matrix).
        self.constraints: dict[str, Any] = {"interaction_constraints": fitted.interaction_sets()}
        if any(fitted.monotone_constraints()):
            self.constraints["monotone_constraints"] = fitted.monotone_constraints()

    def datasets(self, train_rows: np.ndarray, validation_rows: np.ndarray) -> tuple[lgb.Dataset, lgb.Dataset]:
        train_set = lgb.Dataset(
            self.design[train_rows],
            self.labels[train_rows],
            feature_name=self.names,
            categorical_feature=self.categorical,
            free_raw_data=False,
        )
        return train_set, train_set.create_valid(self.design[validation_rows], self.labels[validation_rows])


def _early_stopped(
    params: dict[str, Any], sets: tuple[lgb.Dataset, lgb.Dataset], options: TrainingOptions
) -> tuple[lgb.Booster, float]:
    """LightGBM's own early stopping on the validation log loss; the booster cut to its best iteration."""
    booster = lgb.train(
        {**params, "metric": "binary_logloss"},
        sets[0],
        num_boost_round=options.max_trees,
        valid_sets=[sets[1]],
        callbacks=[lgb.early_stopping(options.early_stopping_rounds, first_metric_only=True, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    loss = float(booster.best_score["valid_0"]["binary_logloss"])
    # The trees past the best iteration would otherwise reach the ONNX export and the explanations.
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best)), loss


def _choose_leaves(
    data: _Design, rows: tuple[np.ndarray, np.ndarray], options: TrainingOptions
) -> tuple[int, dict[str, Any], tuple[lgb.Booster, float] | None]:
    """The leaf count of LEAF_GRID with the lowest validation log loss, each candidate early-stopped. On at most
    GRID_ROWS train rows; when those are all the train rows, the winner's booster is the model."""
    train_rows, validation_rows = rows
    sample = train_rows
    if len(train_rows) > GRID_ROWS:
        rng = np.random.default_rng(options.seed)
        sample = np.sort(rng.choice(train_rows, GRID_ROWS, replace=False))
    sets = data.datasets(sample, validation_rows)
    fits = {
        leaves: _early_stopped(_booster_params(options, leaves) | data.constraints, sets, options)
        for leaves in LEAF_GRID
    }
    best = min(fits, key=lambda leaves: (fits[leaves][1], leaves))
    grid = {
        "rows": len(sample),
        "validation_log_loss": {str(k): round(v[1], 6) for k, v in fits.items()},
        "trees": {str(k): v[0].num_trees() for k, v in fits.items()},
    }
    return best, grid, fits[best] if len(sample) == len(train_rows) else None


def _fit(
    fitted: FeatureSpec,
    design: np.ndarray,
    labels: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray],
    options: TrainingOptions,
    clock: _Clock | None = None,
) -> _Fit:
    """LightGBM on the train rows, its size chosen on the validation rows unless fixed, then Platt scaling of its
    raw score on the validation rows."""
    train_rows, validation_rows = rows
    data = _Design(fitted, design, labels)
    grid: dict[str, Any] | None = None
    chosen: tuple[lgb.Booster, float] | None = None
    leaves = options.leaves
    if leaves is None:
        leaves, grid, chosen = _choose_leaves(data, rows, options)
        if clock:
            clock.lap("leaf_grid")
    params = _booster_params(options, leaves) | data.constraints
    validation_loss: float | None = None
    if options.trees is not None:
        booster = lgb.train(params, data.datasets(train_rows, validation_rows)[0], num_boost_round=options.trees)
    else:
        booster, validation_loss = chosen or _early_stopped(params, data.datasets(train_rows, validation_rows), options)
    raw_validation = np.asarray(booster.predict(design[validation_rows], raw_score=True))
    slope, intercept = platt(raw_validation, labels[validation_rows])
    if slope < 0:
        # The trees rank the validation rows backwards (a tiny or noisy set): a negative slope would turn every
        # monotone feature around, so the model says the base rate for everyone instead.
        log.warning("calibration slope %.3g < 0: the model scores every lead at the base rate", slope)
        rate = float(np.clip(labels[validation_rows].mean(), 1e-6, 1 - 1e-6))
        slope, intercept = 0.0, float(np.log(rate / (1 - rate)))
    calibration = Calibration(slope=slope, intercept=intercept)
    selection: dict[str, Any] = {
        "trees": booster.num_trees(),
        "leaves": leaves,
        "trees_chosen_by": "given" if options.trees is not None else "early stopping on validation log loss",
        "leaves_chosen_by": "given" if grid is None else f"lowest validation log loss of {list(LEAF_GRID)}",
    }
    if options.trees is None:
        selection |= {
            "max_trees": options.max_trees,
            "early_stopping_rounds": options.early_stopping_rounds,
            "validation_log_loss": round(float(validation_loss or 0.0), 6),
        }
    if grid is not None:
        selection["leaf_grid"] = grid
    return _Fit(booster, params, calibration, selection)


def _export_with_parity(
    fit: _Fit, fitted: FeatureSpec, matrix: np.ndarray, design: np.ndarray, test_rows: np.ndarray
) -> _Held:
    """The ONNX model, refused unless it gives the trained model's probabilities on the held-out rows."""
    engagement = {j for j, f in enumerate(fitted.features) if f.side == "engagement"}
    onnx_model = export_onnx(
        fit.booster, len(fitted.names), fit.calibration.slope, fit.calibration.intercept, engagement
    )
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    p_onnx = np.asarray(session.run([OUTPUT_NAME], {INPUT_NAME: matrix[test_rows]})[0], dtype=np.float64)
    raw_test = np.asarray(fit.booster.predict(design[test_rows], raw_score=True))
    p_trained = sigmoid(fit.calibration.slope * raw_test + fit.calibration.intercept)
    parity = float(np.max(np.abs(p_onnx - p_trained))) if len(test_rows) else 0.0
    if not parity <= PARITY_TOLERANCE:
        raise TrainingError(
            f"ONNX export does not reproduce the trained model: max |p_onnx - p_trained| = {parity:.3g} "
            f"> {PARITY_TOLERANCE} on {len(test_rows)} held-out rows; the model was not written"
        )
    return _Held(onnx_model, p_onnx, raw_test, parity, session)


def _matrix(fitted: FeatureSpec, held: _Held, matrix: np.ndarray) -> Matrix | None:
    """How this model's margins become fit and engagement: percentiles among these (training) rows."""
    engagement = [j for j, f in enumerate(fitted.features) if f.side == "engagement"]
    if not engagement or not len(matrix):
        return None
    (margins,) = held.session.run([MARGINS_NAME], {INPUT_NAME: matrix})
    nothing = matrix[:1].copy()
    nothing[:, engagement] = 0.0  # every behaviour feature's value with nothing recorded
    (empty,) = held.session.run([MARGINS_NAME], {INPUT_NAME: nothing})
    baseline = float(empty[0, 1])
    lift = margins[:, 1].astype(np.float64) - baseline
    engaged = lift[lift > 0]
    return Matrix(
        fit=Curve.percentiles(margins[:, 0]),
        engagement=Curve.percentiles(engaged, start=(0.0, 0.0))
        if len(engaged)
        else Curve(knots=[0, 1], values=[0, 100]),
        baseline=baseline,
    )


def _held_out_metrics(labels: np.ndarray, held: _Held) -> dict[str, float]:
    metrics = evaluate(labels, held.p_onnx)
    metrics["brier_uncalibrated"] = round(float(brier(labels, sigmoid(held.raw_test))), 6)
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
    train_rows, validation_rows, test_rows = splits
    return {
        "input": len(source.labels) + source.without_label,
        "without_label": source.without_label,
        "invalid": int((~valid).sum()),
        "used": len(labels),
        "train": len(train_rows),
        "validation": len(validation_rows),
        "test": len(test_rows),
        "positives": int(labels.sum()),
        "unreadable": len(source.reader.unreadable),
    }


def _lineage(
    data: Path,
    data_sha: str,
    options: TrainingOptions,
    rows: dict[str, int],
    fit: _Fit,
    split: dict[str, Any],
    dropped: list[DroppedColumn],
) -> dict[str, Any]:
    """What the model was trained on and how: the manifest's `training` section."""
    return {
        "data_file": data.name,
        "data_sha256": data_sha,
        "label": options.label,
        "id_column": options.id_column,
        "rows": rows,
        "split": split,
        "params": {**fit.params, "num_boost_round": fit.booster.num_trees()},
        "selection": fit.selection,
        "dropped_columns": [{"column": d.column, "reason": d.reason, "kind": d.kind} for d in dropped],
        "library_versions": _library_versions(),
    }


@dataclass
class Prepared:
    """A training table turned into the model's inputs: the matrix every fit sees, and the rows of each split."""

    source: _Labelled
    spec: FeatureSpec
    fitted: FeatureSpec
    dropped: list[DroppedColumn]
    valid: np.ndarray
    labels: np.ndarray
    matrix: np.ndarray
    design: np.ndarray
    rows: tuple[np.ndarray, np.ndarray, np.ndarray]
    split: dict[str, Any]
    error_examples: list[dict[str, Any]]


def prepare(data: Path, options: TrainingOptions, timings: dict[str, float] | None = None) -> Prepared:
    """Read, validate, split, fit the spec and build the feature matrix (`timings` gets seconds per phase)."""
    clock = _Clock(timings)
    source = _read_labelled(data, options)
    clock.lap("read")
    spec, dropped = _resolve_spec(source.table, options)
    batch = validate_batch(source.table, spec)
    labels = source.labels[batch.valid]
    _check_history(labels)
    columns = batch.columns()
    clock.lap("validate")
    rows, split = _split_rows(spec, columns, labels, options)
    fitted = fit_spec(spec, _take(columns, rows[0]), labels[rows[0]])
    matrix = ColumnarFeatures(fitted).matrix(columns, len(labels))
    # Trees see exactly the float32 values ONNX will see.
    design = matrix.astype(np.float64)
    clock.lap("features")
    examples = [e.as_dict() for e in batch.errors[:5]]
    return Prepared(source, spec, fitted, dropped, batch.valid, labels, matrix, design, rows, split, examples)


class _Clock:
    """Seconds per phase into `timings`: wall time under the phase's name, process CPU time under `<phase>_cpu`."""

    def __init__(self, timings: dict[str, float] | None):
        self.timings, self.last, self.last_cpu = timings, time.perf_counter(), time.process_time()

    def lap(self, phase: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        if self.timings is not None:
            self.timings[phase] = round(self.timings.get(phase, 0.0) + now - self.last, 3)
            self.timings[f"{phase}_cpu"] = round(self.timings.get(f"{phase}_cpu", 0.0) + cpu - self.last_cpu, 3)
        self.last, self.last_cpu = now, cpu


def train(
    data: Path, out_dir: Path, options: TrainingOptions, timings: dict[str, float] | None = None
) -> TrainingReport:
    """The whole pipeline; `timings`, when given, gets the seconds each phase took (the benchmark reads them)."""
    prepared = prepare(data, options, timings)
    clock = _Clock(timings)
    source, fitted, dropped, labels = prepared.source, prepared.fitted, prepared.dropped, prepared.labels
    matrix, design = prepared.matrix, prepared.design
    train_rows, validation_rows, test_rows = prepared.rows
    split = prepared.split
    fit = _fit(fitted, design, labels, (train_rows, validation_rows), options, clock)
    clock.lap("fit")
    held = _export_with_parity(fit, fitted, matrix, design, test_rows)
    metrics = _held_out_metrics(labels[test_rows], held)
    clock.lap("export_and_parity")

    sample = train_rows[:20_000]
    contributions = np.asarray(fit.booster.predict(design[sample], pred_contrib=True))[:, :-1] * fit.calibration.slope
    explanations = fit_explanations(fitted, matrix[sample], contributions)
    halves = _matrix(fitted, held, matrix[sample])
    clock.lap("explanations")

    data_sha = sha256_file(data)
    version = options.version or f"{datetime.now(UTC):%Y%m%d}-{data_sha[:8]}"
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    model_path.write_bytes(held.onnx_model.SerializeToString())
    rows = _row_counts(source, prepared.valid, labels, (train_rows, validation_rows, test_rows))
    manifest = Manifest(
        name=options.name,
        version=version,
        created_at=datetime.now(UTC).replace(microsecond=0),
        feature_spec=fitted,
        feature_names=fitted.names,
        onnx=OnnxInfo(
            sha256=sha256_file(model_path),
            input_name=INPUT_NAME,
            output_name=OUTPUT_NAME,
            margins_name=MARGINS_NAME if halves is not None else None,
        ),
        calibration=fit.calibration,
        grades=_grade_thresholds(held.p_onnx),
        metrics=metrics,
        training=_lineage(data, data_sha, options, rows, fit, split, dropped),
        explanations=explanations,
        matrix=halves,
        baseline=Baseline.fit(fitted.names, matrix[test_rows], held.p_onnx, metrics.get("roc_auc")),
    )
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest.model_dump(mode="json", by_alias=True), indent=1) + "\n")
    clock.lap("write")
    return TrainingReport(
        out_dir=out_dir,
        version=version,
        metrics=metrics,
        rows=rows,
        dropped_columns=dropped,
        invalid_examples=prepared.error_examples,
        parity_max_abs_diff=held.parity,
        split=split,
        selection=fit.selection,
        holdout=source.table.filter(pa.array(prepared.valid)).take(pa.array(test_rows)),
        holdout_labels=labels[test_rows],
        holdout_probabilities=held.p_onnx,
    )
