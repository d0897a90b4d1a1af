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


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server (a real HTTP endpoint on 127.0.0.1) for the unit tests that need AWS; its endpoint."""
    from infra.local_cloud.server import LocalAwsServer

    with LocalAwsServer(port=0) as server:
        yield server.endpoint_url


@pytest.fixture
def local_aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh moto (its state reset) that clients built by the code under test reach through AWS_ENDPOINT_URL,
    with dummy credentials; the process's cached clients are dropped on both sides so none points elsewhere."""
    import urllib.request

    from aiqleads.storage.aws import reset_clients

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10).close()
    for name, value in {
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    reset_clients()
    yield
    reset_clients()


@pytest.fixture(scope="session")
def small_model(training_file: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelArtifact:
    from aiqleads.training.pipeline import TrainingOptions, train

    out = tmp_path_factory.mktemp("model") / "lead_scorer"
    train(
        training_file,
        out,
        TrainingOptions(label="converted", id_column="id", spec=default_spec(), trees=30, version="test"),
    )
    return ModelArtifact.open(out)
