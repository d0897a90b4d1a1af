"""A versioned model artifact: `model.onnx` plus `manifest.json`, checked when loaded.

One ONNX session per process: `load_artifact` caches by path, so every caller (CLI, handlers, benchmarks) shares
the session created on first use.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aiqleads.features.spec import FeatureSpec
from aiqleads.monitoring.baseline import Baseline
from aiqleads.scoring.matrix import Matrix
from aiqleads.scoring.reasons import Explanations

MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
MODEL_NAME = "lead_scorer"
MODEL_DIR_ENV = "AIQLEADS_MODEL_DIR"
PRODUCTION_ALIAS_FILE = "PRODUCTION"


class ModelMismatchError(ValueError):
    """The manifest and the ONNX file do not describe the same model."""


class Calibration(BaseModel):
    slope: float
    intercept: float


class OnnxInfo(BaseModel):
    file: str = MODEL_FILE
    sha256: str
    input_name: str
    output_name: str
    margins_name: str | None = Field(default=None, description="[rows, 2]: the fit and engagement log-odds")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    version: str
    created_at: datetime
    feature_spec: FeatureSpec
    feature_names: list[str]
    onnx: OnnxInfo
    calibration: Calibration
    grades: dict[str, float] = Field(description="lowest probability of grades A, B and C; the rest is D")
    metrics: dict[str, float]
    training: dict[str, Any]
    explanations: Explanations
    matrix: Matrix | None = Field(default=None, description="fit, engagement and the matrix grade from the margins")
    baseline: Baseline | None = Field(
        default=None, description="the held-out rows' feature and probability bins, which monitoring compares with"
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _OneRow(threading.local):
    """Per thread: a [1, features] input buffer and an output bound to the session once (IOBinding), so scoring
    one lead copies its features into place and runs, instead of converting a new array in and out of
    onnxruntime on every call (about 3 µs of a 10 µs run)."""

    def __init__(self, session: ort.InferenceSession, input_name: str, outputs: list[str], width: int) -> None:
        self.features = np.zeros((1, width), dtype=np.float32)
        self.row = self.features[0]
        probes = session.run(outputs, {input_name: self.features})
        self.binding = session.io_binding()
        self.binding.bind_cpu_input(input_name, self.features)
        # onnxruntime writes into these arrays' memory: they live as long as the binding (both on this object).
        self.outputs = [np.zeros(probe.shape, dtype=probe.dtype) for probe in probes]
        for name, probe, output in zip(outputs, probes, self.outputs, strict=True):
            self.binding.bind_output(name, "cpu", 0, probe.dtype.type, list(probe.shape), output.ctypes.data)
        self.first_output = self.outputs[0].reshape(-1)
        self.margins = self.outputs[1].reshape(-1) if len(self.outputs) > 1 else None


class ModelArtifact:
    def __init__(self, directory: Path, manifest: Manifest, session: ort.InferenceSession):
        self.directory = directory
        self.manifest = manifest
        self.session = session
        self.input_name = manifest.onnx.input_name
        self.output_name = manifest.onnx.output_name
        self.margins_name = manifest.onnx.margins_name if manifest.matrix is not None else None
        outputs = [self.output_name] + ([self.margins_name] if self.margins_name else [])
        self._one_row = _OneRow(session, self.input_name, outputs, len(manifest.feature_names))

    def run_one(self, features: list[float]) -> tuple[float, tuple[float, float] | None, list[float]]:
        """The model's probability for one feature vector, its (fit, engagement) margins when it has them, and
        that vector as the model saw it (float32 values)."""
        one = self._one_row
        one.row[:] = features
        self.session.run_with_iobinding(one.binding)
        margins = one.margins
        pair = None if margins is None else (float(margins[0]), float(margins[1]))
        return float(one.first_output[0]), pair, one.row.tolist()

    @property
    def version(self) -> str:
        return self.manifest.version

    @classmethod
    def open(cls, directory: Path, threads: int | None = None) -> ModelArtifact:
        manifest_path = directory / MANIFEST_FILE
        model_path = directory / MODEL_FILE
        if not manifest_path.is_file() or not model_path.is_file():
            raise FileNotFoundError(f"{directory} is not a model artifact: it needs {MODEL_FILE} and {MANIFEST_FILE}")
        try:
            manifest = Manifest.model_validate(json.loads(manifest_path.read_text()))
        except (ValidationError, json.JSONDecodeError) as exc:
            raise ModelMismatchError(f"{manifest_path}: not a valid manifest: {exc}") from exc
        if manifest.feature_spec.names != manifest.feature_names:
            raise ModelMismatchError(
                f"{manifest_path}: the feature spec lists {manifest.feature_spec.names} "
                f"but the model was trained on {manifest.feature_names}"
            )
        if sha256_file(model_path) != manifest.onnx.sha256:
            raise ModelMismatchError(
                f"{model_path}: sha256 differs from the manifest's; the files do not belong together"
            )
        options = ort.SessionOptions()
        # One thread per run: tree ensembles this size gain nothing from intra-op threads (they lose to the
        # hand-off); bulk scoring gets its parallelism from running batches on several threads instead.
        options.intra_op_num_threads = threads or 1
        options.inter_op_num_threads = 1
        # The arena keeps the peak of every batch size it saw; bulk scoring wants memory to stay flat.
        options.enable_cpu_mem_arena = False
        session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        inputs = {i.name: i for i in session.get_inputs()}
        declared = inputs.get(manifest.onnx.input_name)
        if declared is None or declared.shape[-1] != len(manifest.feature_names):
            raise ModelMismatchError(
                f"{model_path}: expects input {list(inputs)} of shape "
                f"{[i.shape for i in inputs.values()]}, manifest says {manifest.onnx.input_name!r} "
                f"with {len(manifest.feature_names)} features"
            )
        outputs = {o.name for o in session.get_outputs()}
        for name in (manifest.onnx.output_name, manifest.onnx.margins_name if manifest.matrix else None):
            if name is not None and name not in outputs:
                raise ModelMismatchError(f"{model_path}: has no output {name!r}")
        return cls(directory, manifest, session)


@functools.lru_cache(maxsize=8)
def _cached(directory: str, threads: int | None) -> ModelArtifact:
    return ModelArtifact.open(Path(directory), threads)


def load_artifact(directory: Path | str | None = None, threads: int | None = None) -> ModelArtifact:
    """The artifact at `directory` (default: the production model), loaded once per process."""
    resolved = Path(directory) if directory is not None else default_model_dir()
    return _cached(str(resolved.resolve()), threads)


def _artifact_roots() -> list[Path]:
    here = Path(__file__).resolve()
    candidates = [Path.cwd(), *Path.cwd().parents, *here.parents, Path("/opt")]
    return [c / "model_artifacts" / MODEL_NAME for c in candidates]


def default_model_dir() -> Path:
    """$AIQLEADS_MODEL_DIR, else the production alias (or newest version) of the shipped lead scorer."""
    configured = os.environ.get(MODEL_DIR_ENV)
    if configured:
        return Path(configured)
    for root in _artifact_roots():
        if not root.is_dir():
            continue
        alias = root / PRODUCTION_ALIAS_FILE
        if alias.is_file():
            return root / alias.read_text().strip()
        versions = sorted((p for p in root.iterdir() if (p / MANIFEST_FILE).is_file()), key=lambda p: p.name)
        if versions:
            return versions[-1]
    raise FileNotFoundError(
        f"no model found: set {MODEL_DIR_ENV} or run `make model` to build model_artifacts/{MODEL_NAME}/"
    )
