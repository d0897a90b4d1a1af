"""The model versions this deployment ships (model_artifacts/lead_scorer/<version>/manifest.json), their metrics,
and which one is serving: the function's configured model directory, else the PRODUCTION alias.

Reads only the manifests (JSON), never the ONNX files: listing is cheap and loads no session.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field

from aiqleads.scoring.artifact import MANIFEST_FILE, MODEL_DIR_ENV, MODEL_NAME, PRODUCTION_ALIAS_FILE, default_model_dir


class ModelVersion(BaseModel):
    name: str
    version: str
    created_at: str | None = None
    metrics: dict[str, float]
    features: int = Field(description="inputs in the model's feature spec")
    training_rows: int | None = None
    aliases: list[str] = Field(description="PRODUCTION when the alias file names this version")
    serving: bool = Field(description="the version this API scores with")


class ModelList(BaseModel):
    data: list[ModelVersion]
    serving: str | None


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in version.split("."))


def list_models(root: Path | None = None) -> ModelList:
    serving_dir = default_model_dir()
    root = root or serving_dir.parent
    alias_file = root / PRODUCTION_ALIAS_FILE
    production = alias_file.read_text().strip() if alias_file.is_file() else None
    serving = serving_dir.name if os.environ.get(MODEL_DIR_ENV) or serving_dir.parent == root else production
    versions: list[ModelVersion] = []
    directories = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    for directory in sorted(directories, key=lambda p: _version_key(p.name)):
        manifest_path = directory / MANIFEST_FILE
        if not manifest_path.is_file():
            continue
        manifest = json.loads(manifest_path.read_text())
        training = manifest.get("training") or {}
        rows = training.get("rows") or training.get("train_rows")
        versions.append(
            ModelVersion(
                name=str(manifest.get("name", MODEL_NAME)),
                version=str(manifest.get("version", directory.name)),
                created_at=manifest.get("created_at"),
                metrics={k: float(v) for k, v in (manifest.get("metrics") or {}).items()},
                features=len(manifest.get("feature_names") or []),
                training_rows=int(rows) if isinstance(rows, int | float) else None,
                aliases=["PRODUCTION"] if directory.name == production else [],
                serving=directory.name == serving,
            )
        )
    return ModelList(data=versions, serving=serving)
