"""The model registry's stores in memory, with the conditional writes ModelsTable and the models bucket make."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from aiqleads.registry.records import Alias, AliasState, ModelRecord
from aiqleads.registry.service import ModelRegistry
from aiqleads.scoring.artifact import default_model_dir
from tests.fakes import MemoryEvents


class MemoryRegistryStore:
    def __init__(self) -> None:
        self.records: dict[tuple[str | None, str], ModelRecord] = {}
        self.states: dict[tuple[str | None, Alias], AliasState] = {}
        self.reads = 0

    def get_version(self, tenant: str | None, version: str) -> ModelRecord | None:
        self.reads += 1
        return self.records.get((tenant, version))

    def put_version(self, record: ModelRecord) -> bool:
        if (record.tenant, record.version) in self.records:
            return False
        self.records[record.tenant, record.version] = record
        return True

    def versions(self, tenant: str | None) -> list[ModelRecord]:
        return [r for (owner, _), r in self.records.items() if owner == tenant]

    def aliases(self, tenant: str | None) -> dict[Alias, AliasState]:
        return {name: s for (owner, name), s in self.states.items() if owner == tenant}

    def alias(self, tenant: str | None, name: Alias) -> AliasState | None:
        self.reads += 1
        return self.states.get((tenant, name))

    def put_alias(self, tenant: str | None, state: AliasState, expected: datetime | None) -> bool:
        current = self.states.get((tenant, state.alias))
        if (current.updated_at if current else None) != expected:
            return False
        self.states[tenant, state.alias] = state
        return True


class MemoryBlobs:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_once(self, key: str, body: bytes) -> bool:
        if key in self.objects:
            return False
        self.objects[key] = body
        return True

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)


def memory_registry(*, with_default: bool = True) -> ModelRegistry:
    """A registry in memory, the shipped model registered as the global default (as the API does on first use)."""
    registry = ModelRegistry(MemoryRegistryStore(), MemoryBlobs(), MemoryEvents())
    if with_default:
        registry.ensure_global_default(default_model_dir())
    return registry


def shipped_files() -> dict[str, bytes]:
    directory: Path = default_model_dir()
    return {name: (directory / name).read_bytes() for name in ("model.onnx", "manifest.json")}
