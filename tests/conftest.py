"""Shared fixtures: generated data and a small model trained by our own pipeline (once per session)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aiqleads.features.spec import default_spec
from aiqleads.process_cache import reset
from aiqleads.scoring.artifact import ModelArtifact
from aiqleads_offline.generate import generate_file

SMALL_MODEL_ROWS = 6_000


@pytest.fixture(scope="session")
def training_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "training.csv"
    generate_file(SMALL_MODEL_ROWS, 11, path)
    return path


@pytest.fixture
def process_env() -> Iterator[Callable[[str, str], None]]:
    """Set a variable for one test as a new Lambda process would see it: functions read their settings once per
    process, so the process caches are reset after each change and again once the variables are restored."""
    with pytest.MonkeyPatch.context() as patch:

        def setenv(name: str, value: str) -> None:
            patch.setenv(name, value)
            reset()

        yield setenv
    reset()


@pytest.fixture
def in_process_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's in-process mock with dummy credentials, for unit tests of code that builds its own clients; the
    process's cached clients are dropped on both sides so none points at another test's endpoint."""
    from moto import mock_aws

    from aiqleads.storage.aws import reset_clients

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    reset_clients()
    with mock_aws():
        yield
    reset_clients()


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
