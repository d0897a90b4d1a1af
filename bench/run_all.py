"""`make bench`: every figure side by side from one run on this machine, with its target.

Environment: BENCH_ROWS (default 1,000,000) and BENCH_BIG_ROWS (default 4,000,000) size the files;
BENCH_RECS_LEADS, BENCH_RECS_SAMPLES and BENCH_RECS_PLAIN the recommendations bench (bench/recommendations.py);
BENCH_COLD_RUNS the cold starts per function (bench/cold_start.py);
BENCH_BULK_ROWS the bulk function's (bench/bulk.py).
"""

from __future__ import annotations

import json
import os
import platform
import time

from bench import bulk, cold_start, file_scoring, per_lead, recommendations
from bench.data import DATA_DIR, leads_file
from bench.reference_model import reference_model_dir, session_figures


def _line(name: str, value: str, target: str, ok: bool | None) -> str:
    verdict = "" if ok is None else ("met" if ok else "MISSED")
    return f"  {name:<52} {value:>16}   {target:<22} {verdict}"


def main() -> None:
    rows = int(os.environ.get("BENCH_ROWS", "1000000"))
    big_rows = int(os.environ.get("BENCH_BIG_ROWS", "4000000"))
    workers = os.cpu_count() or 1
    print(
        f"AIQLeads benchmarks on {platform.processor() or platform.machine()}, {workers} cores, Python {platform.python_version()}"
    )
    started = time.perf_counter()
    source = leads_file(rows)
    big = leads_file(big_rows)
    print(f"  data: {source.name}, {big.name} in {DATA_DIR} (generated once, then reused)\n")

    lead = per_lead.measure()
    ours = file_scoring.ours(source, workers)
    model = file_scoring.model_only(source, workers)
    by_hand = file_scoring.by_hand(source)
    reference_dir = reference_model_dir()
    matrix = file_scoring.feature_matrix(source, 262_144)
    shipped_session = session_figures(file_scoring.shipped_model_dir(), matrix, workers)
    reference_session = session_figures(reference_dir, matrix, workers)
    reference_ours = file_scoring.ours(source, workers, model_dir=reference_dir)
    reference_model_only = file_scoring.model_only(source, workers, model_dir=reference_dir)
    memory_small = file_scoring.peak_memory_mb(source)
    memory_big = file_scoring.peak_memory_mb(big)
    recs = recommendations.measure()
    cold = cold_start.measure()
    bulk_cpu = bulk.measure()

    ratio_model = ours["rows_per_s"] / model["rows_per_s"]
    ratio_hand = ours["rows_per_s"] / by_hand["rows_per_s"]
    print("Per-lead scoring (JSON validate + features + infer + grade + reasons), one lead at a time:")
    print(_line("p50", f"{lead['per_lead_p50_us']:.0f} µs", "<= 150 µs", lead["per_lead_p50_us"] <= 150))
    print(_line("p99", f"{lead['per_lead_p99_us']:.0f} µs", "<= 1000 µs", lead["per_lead_p99_us"] <= 1000))
    print(_line("bare InferenceSession.run, one row, p50", f"{lead['bare_run_p50_us']:.0f} µs", "", None))
    print(_line("ratio p50 / bare p50", f"{lead['ratio_p50']:.1f}x", "<= 8x", lead["ratio_p50"] <= 8))
    print(f"\nFile scoring, {rows:,} generated leads csv -> csv, {workers} threads:")
    print(_line("ours", f"{ours['rows_per_s']:,.0f} leads/s", ">= 150,000 leads/s", ours["rows_per_s"] >= 150_000))
    print(_line("model only (session on the built matrix)", f"{model['rows_per_s']:,.0f} rows/s", "", None))
    print(_line("ours / model only", f"{ratio_model:.0%}", ">= 70%", ratio_model >= 0.7))
    print(
        _line(
            f"by hand (pandas + pydantic + run per row, {by_hand['rows']:,} rows)",
            f"{by_hand['rows_per_s']:,.0f} leads/s",
            "",
            None,
        )
    )
    print(_line("ours / by hand", f"{ratio_hand:.0f}x", ">= 5x", ratio_hand >= 5))
    print("\nHost calibration: the issue's yardstick model (200 trees x 31 leaves, trained by our pipeline):")
    print(
        _line(
            "yardstick one-row run p50", f"{reference_session['single_row_p50_us']:.0f} µs", "quoted: about 20 µs", None
        )
    )
    print(
        _line(
            "yardstick rows/s, 2 intra-op threads",
            f"{reference_session['batch_rows_per_s']:,.0f}",
            "quoted: about 180,000",
            None,
        )
    )
    print(_line("shipped model one-row run p50", f"{shipped_session['single_row_p50_us']:.0f} µs", "", None))
    print(_line("shipped model rows/s, 2 intra-op threads", f"{shipped_session['batch_rows_per_s']:,.0f}", "", None))
    ratio_reference = reference_ours["rows_per_s"] / reference_model_only["rows_per_s"]
    print(_line("file scoring with the yardstick model", f"{reference_ours['rows_per_s']:,.0f} leads/s", "", None))
    print(_line("  / its model-only throughput", f"{ratio_reference:.0%}", ">= 70%", ratio_reference >= 0.7))
    print("\nPeak memory of `aiqleads score` (fresh process, imports and model included):")
    print(_line(f"{rows:,} rows", f"{memory_small:.0f} MB", "<= 400 MB", memory_small <= 400))
    print(_line(f"{big_rows:,} rows", f"{memory_big:.0f} MB", "<= 400 MB", memory_big <= 400))
    growth = memory_big / memory_small
    print(_line(f"{big_rows:,} / {rows:,}", f"{growth:.2f}x", "<= 1.2x", growth <= 1.2))
    recommendations.report(recs, _line)
    cold_start.report(cold)
    bulk.report(bulk_cpu, _line)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    summary = {
        "per_lead": lead,
        "file": {
            "ours": ours,
            "model_only": model,
            "by_hand": by_hand,
            "ratio_model": ratio_model,
            "ratio_hand": ratio_hand,
        },
        "memory_mb": {str(rows): memory_small, str(big_rows): memory_big},
        "recommendations": recs,
        "cold_start": cold,
        "bulk": bulk_cpu,
        "calibration": {
            "reference": reference_session,
            "shipped": shipped_session,
            "reference_file": reference_ours,
            "reference_model_only": reference_model_only,
        },
    }
    (DATA_DIR / "last_run.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
