"""The project's single sources of truth stay in step."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_deps_layer_matches_the_runtime_dependencies():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    layer = [
        line.strip()
        for line in (ROOT / "layers" / "deps" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert layer == declared


def test_shipped_model_is_the_production_alias():
    from aiqleads.scoring.artifact import ModelArtifact, default_model_dir

    directory = default_model_dir()
    assert directory.parent == ROOT / "model_artifacts" / "lead_scorer"
    artifact = ModelArtifact.open(directory)
    assert artifact.version == (ROOT / "model_artifacts" / "lead_scorer" / "PRODUCTION").read_text().strip()
    assert artifact.manifest.metrics["roc_auc"] > 0.78
    assert artifact.manifest.metrics["parity_max_abs_diff"] <= 1e-4
    assert artifact.manifest.training["rows"]["train"] > 100_000
