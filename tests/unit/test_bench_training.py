"""The training benchmark (bench/training.py) measures what it says, on a file small enough for a test."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import data, training


def test_training_bench_compares_the_pipeline_with_a_bare_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    monkeypatch.setenv("BENCH_TRAIN_ROWS", "3000")
    figures = training.measure()
    assert figures["input_rows"] == 3000
    assert figures["rows"]["used"] > 2900
    assert figures["pipeline_s"] > figures["bare_fit_s"] > 0
    assert math.isclose(figures["ratio"], figures["pipeline_cpu_s"] / figures["bare_fit_cpu_s"])
    assert figures["pipeline_cpu_s"] > figures["bare_fit_cpu_s"] > 0
    assert figures["peak_rss_mb"] > 50
    assert {"read", "validate", "features", "leaf_grid", "fit", "export_and_parity", "explanations", "write"} <= set(
        figures["timings"]
    )
    training.report(figures, training._line)
    printed = capsys.readouterr().out
    assert "pipeline / bare fit, CPU" in printed
    assert "<= 1.5x" in printed
    assert f"chose {figures['selection']['trees']} trees x {figures['selection']['leaves']} leaves" in printed
