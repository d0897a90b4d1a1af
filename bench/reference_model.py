"""The issue's yardstick model (200 trees x 31 leaves) trained by our own pipeline, to calibrate this host.

Its figures were quoted for this kind of machine (about 180,000 rows/s on 2 threads and about 20 µs for one
row); measuring it beside ours shows how fast the shared host is today, and how our pipeline fares when the
model, not the rest, dominates the cost.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort

from aiqleads.features.spec import default_spec
from aiqleads.scoring.artifact import ModelArtifact
from bench.data import DATA_DIR, leads_file

TREES, LEAVES = 200, 31


def reference_model_dir() -> Path:
    out = DATA_DIR / f"reference-{TREES}x{LEAVES}"
    if not (out / "manifest.json").exists():
        from aiqleads.training.pipeline import TrainingOptions, train

        options = TrainingOptions(
            label="converted", id_column="id", spec=default_spec(), trees=TREES, leaves=LEAVES, version="reference"
        )
        train(leads_file(100_000, seed=7), out, options)
    return out


def session_figures(model_dir: Path, matrix: np.ndarray, threads: int) -> dict[str, float]:
    """Single-row p50 (one thread) and batch rows/s with `threads` intra-op threads, as the issue measured."""
    ModelArtifact.open(model_dir)  # checks the artifact
    single = ort.SessionOptions()
    single.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model_dir / "model.onnx"), single, providers=["CPUExecutionProvider"])
    row = matrix[:1]
    for _ in range(200):
        session.run(None, {"features": row})
    samples = []
    for _ in range(2000):
        begin = time.perf_counter_ns()
        session.run(None, {"features": row})
        samples.append(time.perf_counter_ns() - begin)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    batch_session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
    batch_session.run(None, {"features": matrix})
    start = time.perf_counter()
    for _ in range(3):
        batch_session.run(None, {"features": matrix})
    rows_per_s = 3 * len(matrix) / (time.perf_counter() - start)
    # The same rows from `threads` single-threaded runs at once: how bulk scoring uses a session.
    chunks = np.array_split(matrix, 16)
    with ThreadPoolExecutor(threads) as pool:
        start = time.perf_counter()
        list(pool.map(lambda m: session.run(None, {"features": m}), chunks))
        pooled = len(matrix) / (time.perf_counter() - start)
    return {
        "single_row_p50_us": float(np.percentile(samples, 50)) / 1000,
        "batch_rows_per_s": rows_per_s,
        "pooled_rows_per_s": pooled,
    }
