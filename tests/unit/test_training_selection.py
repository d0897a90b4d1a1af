"""What a user of `aiqleads train` notices: contact details never become features, the model's size is chosen on
validation rows, and the model is judged on the newest leads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from aiqleads.features.spec import Feature
from aiqleads.scoring.artifact import ModelArtifact
from aiqleads.training.inference_spec import infer_spec
from aiqleads.training.pipeline import TrainingOptions, train
from aiqleads_offline.cli import main
from aiqleads_offline.generate import generate_file, generate_table
from tests.unit.test_training import write_crm_export

CONTACT_COLUMNS = ("id", "name", "email", "phone")


def _inputs(features: list[Feature]) -> set[str]:
    return {f.inputs[0] for f in features}


def _manifest_inputs(manifest: dict[str, Any]) -> set[str]:
    return {f["inputs"][0] for f in manifest["feature_spec"]["features"]}


def test_a_crm_export_with_contact_columns_trains_without_them_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = tmp_path / "crm.csv"
    generate_file(4000, 21, data)
    out = tmp_path / "model"
    assert main(["train", "--data", str(data), "--label", "converted", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    for column in CONTACT_COLUMNS:
        assert any(
            line.startswith(f"left out column {column!r}: personal identifier") and f"--include {column!r}" in line
            for line in captured.err.splitlines()
        ), captured.err
    printed = json.loads(captured.out)
    assert {d["column"] for d in printed["left_out"] if d["kind"] == "personal"} == set(CONTACT_COLUMNS)
    manifest = json.loads((out / "manifest.json").read_text())
    assert not _manifest_inputs(manifest) & set(CONTACT_COLUMNS)
    recorded = {d["column"]: d for d in manifest["training"]["dropped_columns"]}
    assert all(recorded[c]["kind"] == "personal" for c in CONTACT_COLUMNS)
    assert manifest["metrics"]["roc_auc"] > 0.7


def test_names_are_left_out_even_when_they_repeat_like_a_category():
    # 20,000 generated leads hold about 1,600 different names: before, that passed for a category and `name`
    # became a model input unless the user remembered --exclude name.
    table = generate_table(20_000, 3)
    spec, dropped = infer_spec(table, "converted")
    assert "name" not in _inputs(spec.features)
    assert {d.column: d.kind for d in dropped}["name"] == "personal"

    spec, dropped = infer_spec(table, "converted", include=("name",))
    assert "name" in _inputs(spec.features)
    assert "name" not in {d.column for d in dropped}


def test_contact_columns_are_recognised_by_what_they_hold():
    table = generate_table(5_000, 4)
    digits = pc.replace_substring_regex(table["phone"], r"[^0-9]", "")
    renamed = {"name": "Who", "email": "Reach", "phone": "Line"}
    table = table.rename_columns([renamed.get(c, c) for c in table.column_names]).append_column("Dial", digits)
    spec, dropped = infer_spec(table, "converted", id_column="id")
    reasons = {d.column: d.reason for d in dropped}
    assert "person names" in reasons["Who"]
    assert "email addresses" in reasons["Reach"]
    assert "phone numbers" in reasons["Line"]
    # Digits only would otherwise pass for a number column.
    assert "phone numbers" in reasons["Dial"]
    assert not _inputs(spec.features) & {"Who", "Reach", "Line", "Dial"}


def test_business_columns_that_share_words_with_identifiers_stay():
    table = pa.table(
        {
            "Campaign Name": [f"Spring {i % 9}" for i in range(600)],
            "Agent ID": [f"A{i % 7}" for i in range(600)],
            "Budget": [str(300_000 + 1_000 * (i % 50)) for i in range(600)],
            "won": ["1" if i % 3 == 0 else "0" for i in range(600)],
        }
    )
    spec, dropped = infer_spec(table, "won")
    assert _inputs(spec.features) == {"Campaign Name", "Agent ID", "Budget"}
    assert dropped == []


def test_include_must_name_a_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    data = tmp_path / "crm.csv"
    write_crm_export(data, 300)
    argv = ["train", "--data", str(data), "--label", "Won?", "--include", "Nmae", "--out", str(tmp_path / "m")]
    assert main(argv) == 1
    assert "--include names no column" in capsys.readouterr().err


def _onnx_trees(model_dir: Path) -> int:
    ensemble = next(n for n in onnx.load(model_dir / "model.onnx").graph.node if n.op_type.startswith("TreeEnsemble"))
    tree_ids = next(a for a in ensemble.attribute if a.name == "nodes_treeids")
    return len(set(tree_ids.ints))


def test_early_stopping_picks_fewer_trees_on_a_tiny_noisy_set_than_on_a_large_clean_one(tmp_path: Path):
    noisy, clean = tmp_path / "noisy.csv", tmp_path / "clean.csv"
    write_crm_export(noisy, 800, seed=5, positive_share=0.3)  # outcomes independent of every column
    write_crm_export(clean, 20_000, seed=6)
    options = TrainingOptions(label="Won?", id_column="Lead ID", version="t")
    small = train(noisy, tmp_path / "noisy", options)
    large = train(clean, tmp_path / "clean", options)
    assert small.selection["trees_chosen_by"] == "early stopping on validation log loss"
    assert small.selection["trees"] < large.selection["trees"]
    assert small.selection["trees"] <= 20
    assert set(large.selection["leaf_grid"]["validation_log_loss"]) == {"7", "15", "31"}
    # What ships is the early-stopped model, no more trees, and its ONNX export is still proven equal.
    for report in (small, large):
        assert _onnx_trees(report.out_dir) == report.selection["trees"]
        assert report.parity_max_abs_diff <= 1e-4
        assert ModelArtifact.open(report.out_dir).manifest.training["selection"] == report.selection


def test_explicit_trees_and_leaves_are_kept(small_model: ModelArtifact):
    selection = small_model.manifest.training["selection"]
    assert (selection["trees"], selection["trees_chosen_by"]) == (30, "given")
    assert selection["leaves_chosen_by"] == "lowest validation log loss of [7, 15, 31]"
    assert _onnx_trees(small_model.directory) == 30


def test_the_time_split_evaluates_on_the_newest_rows(small_model: ModelArtifact, training_file: Path):
    split = small_model.manifest.training["split"]
    assert (split["method"], split["time_column"]) == ("time", "created_at")
    train_span, validation_span, test_span = split["train_span"], split["validation_span"], split["test_span"]
    assert train_span[1] <= validation_span[0] <= validation_span[1] <= test_span[0] <= test_span[1]
    # The held-out leads are the newest fifth of the file, not a random fifth.
    created = [c for c in pc.drop_null(generate_table(6_000, 11)["created_at"]).to_pylist() if c.startswith("20")]
    assert 0.18 <= sum(c >= test_span[0] for c in created) / len(created) <= 0.22
    assert test_span[1] <= max(created)
    rows = small_model.manifest.training["rows"]
    assert rows["test"] == round(rows["used"] * 0.2)
    assert training_file.exists()


def test_random_split_on_request(tmp_path: Path):
    data = tmp_path / "crm.csv"
    write_crm_export(data, 1500)
    report = train(data, tmp_path / "m", TrainingOptions(label="Won?", id_column="Lead ID", split="random", trees=10))
    assert report.split["method"] == "stratified random"
