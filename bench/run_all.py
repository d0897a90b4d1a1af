"""`make bench`: every figure side by side from one run on this machine, with its target.

Environment: BENCH_ROWS (default 1,000,000) and BENCH_BIG_ROWS (default 4,000,000) size the files;
BENCH_RECS_LEADS, BENCH_RECS_SAMPLES and BENCH_RECS_PLAIN the recommendations bench (bench/recommendations.py);
BENCH_COLD_RUNS the cold starts per function (bench/cold_start.py);
BENCH_BULK_ROWS the bulk function's (bench/bulk.py); BENCH_LOAD_REQUESTS (default 5,000) and
BENCH_LOAD_CONCURRENCY (default 50) the load on the local API (bench/load.py: mixed reads and writes, one
enterprise key per connection); BENCH_MONITOR_ROWS the monitoring run's (bench/monitoring.py, default 100,000);
BENCH_TRAIN_ROWS the training bench's (bench/training.py, default 1,000,000); COST_LEADS, COST_EVENTS,
COST_BULK_ROWS and COST_REC_SAMPLES the cost model (bench/cost.py).

Each section measures, then prints its figures at once, so a run that stops early still shows what it measured;
`bench/.data/last_run.json` keeps every figure of the last complete run.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from bench import bulk, cold_start, cost, file_scoring, load, monitoring, per_lead, recommendations, training
from bench.data import DATA_DIR, leads_file
from bench.reference_model import reference_model_dir, session_figures


def _line(name: str, value: str, target: str, ok: bool | None) -> str:
    verdict = "" if ok is None else ("met" if ok else "MISSED")
    return f"  {name:<52} {value:>16}   {target:<22} {verdict}"


def per_lead_section() -> dict[str, float]:
    lead = per_lead.measure()
    print("Per-lead scoring (JSON validate + features + infer + grade + reasons), one lead at a time:")
    print(_line("p50", f"{lead['per_lead_p50_us']:.0f} µs", "<= 150 µs", lead["per_lead_p50_us"] <= 150))
    print(_line("p99", f"{lead['per_lead_p99_us']:.0f} µs", "<= 1000 µs", lead["per_lead_p99_us"] <= 1000))
    print(_line("bare InferenceSession.run, one row, p50", f"{lead['bare_run_p50_us']:.0f} µs", "", None))
    print(_line("ratio p50 / bare p50", f"{lead['ratio_p50']:.1f}x", "<= 8x", lead["ratio_p50"] <= 8))
    return lead


def file_section(source: Path, rows: int, workers: int) -> dict[str, Any]:
    ours = file_scoring.ours(source, workers)
    model = file_scoring.model_only(source, workers)
    by_hand = file_scoring.by_hand(source)
    ratio_model = ours["rows_per_s"] / model["rows_per_s"]
    ratio_hand = ours["rows_per_s"] / by_hand["rows_per_s"]
    print(f"\nFile scoring, {rows:,} generated leads csv -> csv, {workers} threads:")
    print(_line("ours", f"{ours['rows_per_s']:,.0f} leads/s", ">= 150,000 leads/s", ours["rows_per_s"] >= 150_000))
    print(_line("model only (session on the built matrix)", f"{model['rows_per_s']:,.0f} rows/s", "", None))
    print(_line("ours / model only", f"{ratio_model:.0%}", ">= 70%", ratio_model >= 0.7))
    hand = f"by hand (pandas + pydantic + run per row, {by_hand['rows']:,} rows)"
    print(_line(hand, f"{by_hand['rows_per_s']:,.0f} leads/s", "", None))
    print(_line("ours / by hand", f"{ratio_hand:.0f}x", ">= 5x", ratio_hand >= 5))
    return {"ours": ours, "model_only": model, "by_hand": by_hand, "ratio_model": ratio_model, "ratio_hand": ratio_hand}


def calibration_section(source: Path, workers: int) -> dict[str, Any]:
    """The issue's yardstick model beside ours: how fast this host is, whatever else it is doing."""
    reference_dir = reference_model_dir()
    matrix = file_scoring.feature_matrix(source, 262_144)
    shipped = session_figures(file_scoring.shipped_model_dir(), matrix, workers)
    reference = session_figures(reference_dir, matrix, workers)
    reference_file = file_scoring.ours(source, workers, model_dir=reference_dir)
    reference_model_only = file_scoring.model_only(source, workers, model_dir=reference_dir)
    ratio = reference_file["rows_per_s"] / reference_model_only["rows_per_s"]
    print("\nHost calibration: the issue's yardstick model (200 trees x 31 leaves, trained by our pipeline):")
    one_row = f"{reference['single_row_p50_us']:.0f} µs"
    print(_line("yardstick one-row run p50", one_row, "quoted: about 20 µs", None))
    batch = f"{reference['batch_rows_per_s']:,.0f}"
    print(_line("yardstick rows/s, 2 intra-op threads", batch, "quoted: about 180,000", None))
    print(_line("shipped model one-row run p50", f"{shipped['single_row_p50_us']:.0f} µs", "", None))
    print(_line("shipped model rows/s, 2 intra-op threads", f"{shipped['batch_rows_per_s']:,.0f}", "", None))
    print(_line("file scoring with the yardstick model", f"{reference_file['rows_per_s']:,.0f} leads/s", "", None))
    print(_line("  / its model-only throughput", f"{ratio:.0%}", ">= 70%", ratio >= 0.7))
    return {
        "reference": reference,
        "shipped": shipped,
        "reference_file": reference_file,
        "reference_model_only": reference_model_only,
    }


def memory_section(source: Path, rows: int, big: Path, big_rows: int) -> dict[str, float]:
    small_mb, big_mb = file_scoring.peak_memory_mb(source), file_scoring.peak_memory_mb(big)
    growth = big_mb / small_mb
    print("\nPeak memory of `aiqleads score` (fresh process, imports and model included):")
    print(_line(f"{rows:,} rows", f"{small_mb:.0f} MB", "<= 400 MB", small_mb <= 400))
    print(_line(f"{big_rows:,} rows", f"{big_mb:.0f} MB", "<= 400 MB", big_mb <= 400))
    print(_line(f"{big_rows:,} / {rows:,}", f"{growth:.2f}x", "<= 1.2x", growth <= 1.2))
    return {str(rows): small_mb, str(big_rows): big_mb}


def main() -> None:
    rows = int(os.environ.get("BENCH_ROWS", "1000000"))
    big_rows = int(os.environ.get("BENCH_BIG_ROWS", "4000000"))
    workers = os.cpu_count() or 1
    host = platform.processor() or platform.machine()
    print(f"AIQLeads benchmarks on {host}, {workers} cores, Python {platform.python_version()}")
    started = time.perf_counter()
    source, big = leads_file(rows), leads_file(big_rows)
    print(f"  data: {source.name}, {big.name} in {DATA_DIR} (generated once, then reused)\n")

    summary: dict[str, Any] = {"per_lead": per_lead_section()}
    summary["file"] = file_section(source, rows, workers)
    summary["calibration"] = calibration_section(source, workers)
    summary["memory_mb"] = memory_section(source, rows, big, big_rows)
    summary["recommendations"] = recommendations.measure()
    recommendations.report(summary["recommendations"], _line)
    summary["load"] = load.measure()
    load.report(summary["load"], _line)
    summary["bulk"] = bulk.measure()
    bulk.report(summary["bulk"], _line)
    summary["training"] = training.measure()
    training.report(summary["training"], _line)
    summary["monitoring"] = monitoring.measure()
    monitoring.report(summary["monitoring"], _line)
    summary["cold_start"] = cold_start.measure()
    cold_start.report(summary["cold_start"])
    measured = cost.measure()
    cost.report(measured)
    summary["cost"] = {**measured, "phases": {name: phase.as_dict() for name, phase in measured["phases"].items()}}
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    (DATA_DIR / "last_run.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
