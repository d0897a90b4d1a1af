"""File scoring throughput (csv -> csv) beside model-only throughput and a hand-written baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd

from aiqleads.files.score_file import score_file
from aiqleads.files.tabular import TableReader
from aiqleads.scoring.artifact import default_model_dir, load_artifact
from aiqleads.scoring.scorer import Scorer
from aiqleads.validation.columnar import validate_batch
from aiqleads.validation.flat import SIGNAL_COLUMNS, InvalidRow, lead_from_flat


def shipped_model_dir() -> Path:
    return default_model_dir()


def feature_matrix(source: Path, rows: int) -> np.ndarray:
    scorer = Scorer(load_artifact())
    chunks, built = [], 0
    for batch in TableReader(source).batches():
        validated = validate_batch(batch, scorer.spec)
        chunks.append(scorer.columnar_features.matrix(validated.typed, validated.size))
        built += batch.num_rows
        if built >= rows:
            break
    return np.vstack(chunks)[:rows]


def ours(source: Path, workers: int, model_dir: Path | None = None) -> dict[str, float]:
    scorer = Scorer(load_artifact(model_dir))
    with tempfile.TemporaryDirectory() as scratch:
        report = score_file(source, Path(scratch) / "scored.csv", scorer, progress=False, workers=workers)
    return {"rows": report.rows, "seconds": report.seconds, "rows_per_s": report.rows / report.seconds}


def model_only(source: Path, workers: int, rows: int = 262_144, model_dir: Path | None = None) -> dict[str, float]:
    """The same session on the already-built feature matrix, in batches as bulk scoring sends them, run from the
    same number of threads."""
    artifact = load_artifact(model_dir)
    chunks = np.array_split(feature_matrix(source, rows), max(1, rows // 16_384))
    run, names, feed = artifact.session.run, [artifact.output_name], artifact.input_name
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda m: run(names, {feed: m}), chunks[:2]))
        start = time.perf_counter()
        list(pool.map(lambda m: run(names, {feed: m}), chunks))
        seconds = time.perf_counter() - start
    return {"rows_per_s": sum(len(c) for c in chunks) / seconds}


def by_hand(source: Path, rows: int = 20_000) -> dict[str, float]:
    """What a user would write: pandas read, a pydantic model per row, one InferenceSession.run per row."""
    scorer = Scorer(load_artifact())
    session = ort.InferenceSession(str(default_model_dir() / "model.onnx"), providers=["CPUExecutionProvider"])
    signals = [c for c in scorer.spec.inputs if c in SIGNAL_COLUMNS]
    start = time.perf_counter()
    frame = pd.read_csv(source, nrows=rows, dtype=str, keep_default_na=False)
    probabilities = []
    for row in frame.to_dict("records"):
        try:
            lead = lead_from_flat({str(k): v for k, v in row.items()})
        except InvalidRow:
            continue
        values = lead.flat()
        values.update({k: float(row[k]) if row.get(k) else None for k in signals})
        vector = scorer.record_features.vector(values)
        probabilities.append(float(session.run(None, {"features": vector})[0][0]))
    seconds = time.perf_counter() - start
    return {"rows": rows, "rows_per_s": rows / seconds}


def peak_memory_mb(source: Path) -> float:
    """Peak RSS of a fresh process scoring `source` (so imports and the model count, as for a user).

    Read from VmHWM: ru_maxrss survives exec on Linux and would charge the child with this (large) parent."""
    with tempfile.TemporaryDirectory() as scratch:
        code = (
            "import re, sys; from aiqleads_offline.cli import main; "
            "code = main(['score', sys.argv[1], '-o', sys.argv[2], '-q']); "
            "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)); sys.exit(code)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(source), str(Path(scratch) / "out.csv")],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ},
        )
    return int(done.stdout.strip().splitlines()[-1]) / 1024


if __name__ == "__main__":
    from bench.data import leads_file

    path = leads_file(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
    print(
        json.dumps({"ours": ours(path, 2), "model_only": model_only(path, 2), "by_hand": by_hand(path, 5000)}, indent=1)
    )
