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


def test_public_api_names_resolve_and_cost_nothing_until_used():
    import subprocess
    import sys

    probe = (
        "import sys, aiqleads; heavy = {'numpy', 'pyarrow', 'onnxruntime'} & set(sys.modules); "
        "assert not heavy, heavy; "
        "from aiqleads import Lead, Scorer, load_artifact, score_file; "
        "score = Scorer(load_artifact()).score_lead(Lead.model_validate({'id': 'l-1', 'source': 'zillow', "
        "'contact': {'email': 'a@example.com'}, 'property': {'type': 'condo', 'price': 300000, 'market': 'austin'}, 'intent': 'buy', 'timeline': 'asap'})); "
        "assert 0 <= score.score <= 100 and score.grade in 'ABCD', score"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=ROOT)
    import aiqleads

    assert sorted(aiqleads.__all__) == sorted(aiqleads._EXPORTS)
    for name in aiqleads.__all__:
        assert getattr(aiqleads, name).__name__ == name
