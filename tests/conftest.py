"""Shared fixtures: generated data and a small model trained by our own pipeline (once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiqleads.features.spec import default_spec
from aiqleads.scoring.artifact import ModelArtifact
from aiqleads_offline.generate import generate_file

SMALL_MODEL_ROWS = 6_000


@pytest.fixture(scope="session")
def training_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "training.csv"
    generate_file(SMALL_MODEL_ROWS, 11, path)
    return path


@pytest.fixture(scope="session")
def small_model(training_file: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelArtifact:
    from aiqleads_offline.training.pipeline import TrainingOptions, train

    out = tmp_path_factory.mktemp("model") / "lead_scorer"
    train(
        training_file,
        out,
        TrainingOptions(label="converted", id_column="id", spec=default_spec(), trees=30, version="test"),
    )
    return ModelArtifact.open(out)
