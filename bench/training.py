"""Training: `aiqleads train`'s whole pipeline on generated labelled leads against a bare LightGBM fit.

The pipeline (read the CSV, validate, split by time, fit the spec, build the matrix, choose leaves and trees on the
validation rows, calibrate, export ONNX and prove its parity, evaluate, explain, write) runs in a fresh process
with the built-in lead spec, so its peak RSS (VmHWM) is its own. The same process then builds the same feature
matrix again (untimed) and times a bare `lgb.train` on the same train rows with the parameters and the number of
trees the pipeline chose: the floor any pipeline that trains this model pays. Target: pipeline <= 1.5x the floor,
in process CPU time (wall time, also printed, moves too much on this shared host).

`python -m bench.training` prints the section; BENCH_TRAIN_ROWS (default 1,000,000) sizes the data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.data import leads_file

TARGET_RATIO = 1.5


def _rows() -> int:
    return int(os.environ.get("BENCH_TRAIN_ROWS", "1000000"))


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


ROUNDS = 2  # each side runs this many times, alternating, so that a noisy minute on the host hits both


def _bare_fit(prepared: Any, params: dict[str, Any], trees: int) -> tuple[float, float]:
    """One bare `lgb.train` of the prepared matrix's train rows: (wall, CPU) seconds."""
    import lightgbm as lgb

    train_rows = prepared.rows[0]
    categorical = [j for j, f in enumerate(prepared.fitted.features) if f.transform == "category"]
    start, cpu = time.perf_counter(), time.process_time()
    dataset = lgb.Dataset(
        prepared.design[train_rows],
        prepared.labels[train_rows],
        feature_name=prepared.fitted.names,
        categorical_feature=categorical,
    )
    lgb.train(params, dataset, num_boost_round=trees)
    return time.perf_counter() - start, time.process_time() - cpu


def _child(data: Path, out: Path) -> dict[str, Any]:
    """In a fresh process: the pipeline (its peak memory taken after the first run), then the bare fit of the same
    matrix, alternating ROUNDS times; the ratio is of the sums."""
    from aiqleads.features.spec import default_spec
    from aiqleads.training.pipeline import TrainingOptions, prepare, train

    options = TrainingOptions(label="converted", id_column="id", spec=default_spec(), version="bench")
    pipeline_runs: list[tuple[float, float]] = []
    bare_runs: list[tuple[float, float]] = []
    timings: dict[str, float] = {}
    peak = float("nan")
    report: Any = None
    prepared: Any = None
    for round_number in range(ROUNDS):
        run_timings: dict[str, float] = {}
        start, cpu = time.perf_counter(), time.process_time()
        report = train(data, out / str(round_number), options, run_timings)
        pipeline_runs.append((time.perf_counter() - start, time.process_time() - cpu))
        if round_number == 0:
            peak, timings = _peak_rss_mb(), run_timings
            manifest = json.loads((out / "0" / "manifest.json").read_text())
            params = dict(manifest["training"]["params"])
            trees = params.pop("num_boost_round")
            prepared = prepare(data, options)  # untimed: the bare fit's input, built once
        bare_runs.append(_bare_fit(prepared, params, trees))
    pipeline_s, pipeline_cpu = (sum(run[i] for run in pipeline_runs) for i in (0, 1))
    bare_s, bare_cpu = (sum(run[i] for run in bare_runs) for i in (0, 1))
    return {
        "rounds": ROUNDS,
        "rows": report.rows,
        "pipeline_s": pipeline_s / ROUNDS,
        "bare_fit_s": bare_s / ROUNDS,
        "pipeline_cpu_s": pipeline_cpu / ROUNDS,
        "bare_fit_cpu_s": bare_cpu / ROUNDS,
        "pipeline_cpu_runs": [round(run[1], 1) for run in pipeline_runs],
        "bare_fit_cpu_runs": [round(run[1], 1) for run in bare_runs],
        # CPU time: on this shared host the wall time of the same fit has moved by 50% between runs.
        "ratio": pipeline_cpu / bare_cpu,
        "wall_ratio": pipeline_s / bare_s,
        "peak_rss_mb": peak,
        "timings": timings,
        "selection": report.selection,
        "metrics": report.metrics,
    }


def measure(rows: int | None = None) -> dict[str, Any]:
    rows = rows or _rows()
    data = leads_file(rows)
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "bench.training", "--child", str(data), str(Path(tmp) / "model")]
        root = Path(__file__).resolve().parent.parent
        done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=root)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["input_rows"] = rows
    return figures


def report(figures: dict[str, Any], line: Callable[[str, str, str, bool | None], str]) -> None:
    selection, ratio = figures["selection"], figures["ratio"]
    size = f"{selection['trees']} trees x {selection['leaves']} leaves"
    print(f"\nTraining, {figures['input_rows']:,} generated labelled leads (csv), lead spec, chose {size}:")
    ours = f"{figures['pipeline_cpu_s']:.1f} s ({figures['pipeline_s']:.1f})"  # means over the rounds
    bare = f"{figures['bare_fit_cpu_s']:.1f} s ({figures['bare_fit_s']:.1f})"
    print(line("aiqleads train pipeline, CPU (wall)", ours, "", None))
    print(line("bare lgb.train, same matrix, params, trees: CPU (wall)", bare, "", None))
    print(line("pipeline / bare fit, CPU", f"{ratio:.2f}x", f"<= {TARGET_RATIO}x", ratio <= TARGET_RATIO))
    runs = f"pipeline {figures['pipeline_cpu_runs']}, bare {figures['bare_fit_cpu_runs']}"
    print(f"  CPU s of each of the {figures['rounds']} alternating runs: {runs}")
    print(line("pipeline / bare fit, wall", f"{figures['wall_ratio']:.2f}x", "", None))
    print(line("pipeline peak memory (fresh process, RSS)", f"{figures['peak_rss_mb']:.0f} MB", "", None))
    timings = figures["timings"]
    phases = ", ".join(
        f"{name} {seconds:.1f} ({timings.get(name + '_cpu', float('nan')):.1f})"
        for name, seconds in timings.items()
        if not name.endswith("_cpu")
    )
    print(f"  phases of the first run, wall (CPU) s: {phases}")
    metrics = figures["metrics"]
    print(
        f"  newest {figures['rows']['test']:,} leads: ROC AUC {metrics['roc_auc']:.3f}, PR AUC {metrics['pr_auc']:.3f},"
        f" Brier {metrics['brier']:.4f}, lift {metrics['lift_top_decile']:.2f}"
    )


def _line(name: str, value: str, target: str, ok: bool | None) -> str:
    verdict = "" if ok is None else ("met" if ok else "MISSED")
    return f"  {name:<52} {value:>16}   {target:<22} {verdict}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(_child(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        report(measure(), _line)
