"""Training: any CRM export with an outcome column gives a working, honest model, or a clear refusal."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from aiqleads.features.spec import default_spec
from aiqleads.files.tabular import TableReader
from aiqleads.scoring.artifact import ModelArtifact
from aiqleads.training import pipeline
from aiqleads.training.pipeline import TrainingError, TrainingOptions, train
from aiqleads_offline.cli import main


def write_crm_export(path: Path, rows: int, seed: int = 3, positive_share: float | None = None) -> None:
    """A CRM export in its own vocabulary: spaces in names, yes/no outcome, junk columns."""
    rng = np.random.default_rng(seed)
    sources = np.array(["Website", "Open House", "Referral", "Cold Call", "Zillow"])
    source = rng.integers(0, len(sources), rows)
    budget = rng.lognormal(12.8, 0.4, rows).round(-3)
    calls = rng.poisson(2, rows)
    logit = -1.5 + 0.9 * (source == 2) - 0.8 * (source == 3) + 0.5 * calls - 0.3 * np.log(budget / 360_000)
    won = rng.random(rows) < 1 / (1 + np.exp(-logit))
    if positive_share is not None:
        won = rng.random(rows) < positive_share
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(
            ["Lead ID", "Lead Source", "Budget", "Calls Logged", "Created", "Notes", "Region", "Fax", "Agent", "Won?"]
        )
        for i in range(rows):
            writer.writerow(
                [
                    f"CRM-{i:06d}",
                    sources[source[i]],
                    f"{budget[i]:.0f}",
                    calls[i],
                    f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z",
                    f"note {i} about the client",
                    "Southwest",
                    "",
                    f"agent{i % 7}",
                    "Yes" if won[i] else "No",
                ]
            )


def test_bring_your_own_crm_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    data = tmp_path / "crm.csv"
    write_crm_export(data, 3000)
    out = tmp_path / "model"
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--label",
                "Won?",
                "--id",
                "Lead ID",
                "--exclude",
                "Agent",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    for column, reason in [
        ("Notes", "a different value on every row"),
        ("Region", "constant"),
        ("Fax", "empty"),
        ("Agent", "excluded"),
    ]:
        assert any(
            line.startswith(f"dropped column {column!r}") and reason in line for line in captured.err.splitlines()
        )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["feature_spec"]["schema"] == "table"
    used = {f["inputs"][0] for f in manifest["feature_spec"]["features"]}
    assert used == {"Lead Source", "Budget", "Calls Logged", "Created"}
    assert manifest["metrics"]["roc_auc"] > 0.65
    for key in ("pr_auc", "brier", "lift_top_decile", "parity_max_abs_diff"):
        assert key in manifest["metrics"]
    assert manifest["training"]["data_sha256"]
    assert "lightgbm" in manifest["training"]["library_versions"]

    scored = tmp_path / "scored.jsonl"
    assert main(["score", str(data), "--model", str(out), "-o", str(scored), "-q"]) == 0
    rows = TableReader(scored).read_all().to_pylist()
    assert len(rows) == 3000
    assert rows[0]["Lead ID"] == "CRM-000000"
    assert all(row["reasons"] is None or "Notes" not in row["reasons"] for row in rows)


def test_too_little_history_stops_with_a_clear_message(tmp_path: Path):
    data = tmp_path / "crm.csv"
    write_crm_export(data, 400, positive_share=0.05)
    with pytest.raises(TrainingError, match="at least 40 of each"):
        train(data, tmp_path / "model", TrainingOptions(label="Won?", id_column="Lead ID"))
    assert not (tmp_path / "model").exists()


def test_unknown_label_values_are_named(tmp_path: Path):
    data = tmp_path / "crm.csv"
    write_crm_export(data, 200)
    text = data.read_text().replace(",No\n", ",Maybe\n", 3)
    data.write_text(text)
    with pytest.raises(ValueError, match="maybe"):
        train(data, tmp_path / "model", TrainingOptions(label="Won?"))


def test_a_broken_onnx_export_is_caught_by_the_parity_check(
    tmp_path: Path, training_file: Path, monkeypatch: pytest.MonkeyPatch
):
    real_export = pipeline.export_onnx

    def off_by_a_little(booster, n_features, slope, intercept, engagement_features):
        return real_export(booster, n_features, slope * 1.01, intercept, engagement_features)

    monkeypatch.setattr(pipeline, "export_onnx", off_by_a_little)
    with pytest.raises(TrainingError, match="does not reproduce the trained model"):
        train(training_file, tmp_path / "model", TrainingOptions(label="converted", spec=default_spec(), trees=10))
    assert not (tmp_path / "model" / "model.onnx").exists()


def test_same_data_same_seed_same_metrics(tmp_path: Path, training_file: Path, small_model: ModelArtifact):
    again = train(
        training_file,
        tmp_path / "again",
        TrainingOptions(label="converted", id_column="id", spec=default_spec(), trees=30, version="test"),
    )
    assert again.metrics == small_model.manifest.metrics
    assert (tmp_path / "again" / "model.onnx").read_bytes() == (small_model.directory / "model.onnx").read_bytes()


def test_training_writes_the_baseline_monitoring_compares_with(small_model: ModelArtifact):
    manifest = small_model.manifest
    assert manifest.baseline is not None
    assert list(manifest.baseline.features) == manifest.feature_names
    assert manifest.baseline.roc_auc == manifest.metrics["roc_auc"]
    held_out = manifest.training["rows"]["test"]
    assert manifest.baseline.probability.rows == held_out  # the held-out rows, as the metrics
    assert sum(manifest.baseline.probability.shares) == pytest.approx(1.0, abs=1e-4)
    for bins in manifest.baseline.features.values():
        assert len(bins.shares) == len(bins.edges) + 1
        assert bins.edges == sorted(bins.edges)


def test_small_model_learns_the_generated_story(small_model: ModelArtifact):
    metrics = small_model.manifest.metrics
    assert metrics["roc_auc"] > 0.7
    assert metrics["lift_top_decile"] > 2
    assert metrics["parity_max_abs_diff"] <= 1e-4
    grades = small_model.manifest.grades
    assert grades["A"] >= grades["B"] >= grades["C"]


def test_a_threshold_just_under_a_float32_value_splits_as_lightgbm_does() -> None:
    """Rows holding 35.2 and its float32 neighbour below: LightGBM's threshold lies between them in double and
    rounds up to 35.2 in float32, which would send the 35.2 rows the other way in ONNX (the demo tenant's
    minutes to first contact did exactly this). The export steps such thresholds down one float32."""
    import lightgbm as lgb
    import onnxruntime as ort

    from aiqleads.training.onnx_export import INPUT_NAME, OUTPUT_NAME, export_onnx

    rng = np.random.default_rng(0)
    value = np.float32(35.2)
    x = np.where(rng.random(400) < 0.5, np.nextafter(value, np.float32(-np.inf)), value).astype(np.float32)[:, None]
    y = np.where(rng.random(400) < 0.1, x[:, 0] != value, x[:, 0] == value).astype(int)
    params = {"objective": "binary", "num_leaves": 2, "min_data_in_leaf": 5, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(x.astype(np.float64), y), 3)
    assert all(np.float32(t["tree_structure"]["threshold"]) == value for t in booster.dump_model()["tree_info"])
    session = ort.InferenceSession(export_onnx(booster, 1, 1.0, 0.0, set()).SerializeToString())
    onnx_p = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    assert np.max(np.abs(onnx_p - booster.predict(x.astype(np.float64)))) < 1e-6
