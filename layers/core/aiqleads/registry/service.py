"""Register versions, list and show them, move a tenant's aliases, announce `model.promoted`.

Artifacts are written once under keys that name their owner and version, and each file's sha256 is recorded with
the version: whatever later happens to an object, promotion and loading compare it with that record and refuse a
mismatch. Alias writes are conditional on the alias being as it was read, so two admins promoting at once cannot
lose a step of the history `rollback` walks back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger

from aiqleads.errors import Conflict, DomainError, InvalidInput, NotFound
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.ports import EventSink
from aiqleads.registry.records import (
    ALIASES,
    HISTORY_LIMIT,
    MODEL_FILES,
    Alias,
    AliasChange,
    AliasState,
    AliasTarget,
    ArtifactFile,
    Comparison,
    Lineage,
    ModelList,
    ModelRecord,
    ModelVersion,
    training_rows,
    valid_version,
    version_order,
)

if TYPE_CHECKING:
    from aiqleads.registry.shadow import ShadowReports

logger = Logger(child=True)  # under the function's Powertools logger, whatever its service name

MODELS_PREFIX = "models/"
GLOBAL = "global"  # the global partition's name in keys; tenant partitions live under "tenants/"


class CorruptArtifact(DomainError):
    """An artifact's bytes no longer match the sha256 the registry recorded for them."""

    status = 409
    code = "artifact_corrupt"


class RegistryStore(Protocol):
    def get_version(self, tenant: str | None, version: str) -> ModelRecord | None: ...
    def put_version(self, record: ModelRecord) -> bool: ...
    def versions(self, tenant: str | None) -> list[ModelRecord]: ...
    def aliases(self, tenant: str | None) -> dict[Alias, AliasState]: ...
    def put_alias(self, tenant: str | None, state: AliasState, expected: datetime | None) -> bool: ...


class ProductionChanged(Protocol):
    """Told when a tenant's production alias has moved (promotion, rollback, return to the global default): the
    rescoring of its open leads is submitted here (`aiqleads.rescoring`), so the registry knows no queue. Returns
    the job's id, or None when nothing was submitted."""

    def __call__(self, tenant: str, previous: AliasTarget | None, target: AliasTarget) -> str | None: ...


class ArtifactSource(Protocol):
    def get(self, key: str) -> bytes | None: ...


class ArtifactBlobs(ArtifactSource, Protocol):
    def put_once(self, key: str, body: bytes) -> bool: ...


def owner_path(tenant: str | None) -> str:
    return GLOBAL if tenant is None else f"tenants/{tenant}"


def artifact_key(tenant: str | None, version: str, file: str) -> str:
    return f"{MODELS_PREFIX}{owner_path(tenant)}/{version}/{file}"


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def verified(record: ModelRecord, blobs: ArtifactSource) -> dict[str, bytes]:
    """The version's files, each checked against the sha256 recorded at registration; CorruptArtifact if not."""
    files: dict[str, bytes] = {}
    for name, entry in record.files.items():
        body = blobs.get(entry.key)
        if body is None or sha256(body) != entry.sha256:
            raise CorruptArtifact(
                f"model {record.version}: {name} does not match the sha256 recorded when it was registered"
                + (" (the object is missing)" if body is None else ""),
                {"version": record.version, "file": name, "key": entry.key, "expected_sha256": entry.sha256},
            )
        files[name] = body
    return files


class ModelRegistry:
    def __init__(
        self,
        store: RegistryStore,
        blobs: ArtifactBlobs,
        events: EventSink | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        shadow_reports: ShadowReports | None = None,
        on_production_change: ProductionChanged | None = None,
    ):
        self.store, self.blobs, self.events, self.clock = store, blobs, events, clock
        self.shadow_reports = shadow_reports
        self.on_production_change = on_production_change

    # ---------------------------------------------------------------- registration
    def register(
        self,
        tenant: str | None,
        files: Mapping[str, bytes],
        *,
        version: str | None = None,
        lineage: Lineage | None = None,
        comparison: Comparison | None = None,
    ) -> ModelRecord:
        """Store an artifact's two files once and index them. `version` renames it (the manifest is rewritten, so
        scores carry the registered version). Registering the same bytes again returns the existing record."""
        missing = [name for name in MODEL_FILES if name not in files]
        if missing:
            raise InvalidInput(f"an artifact needs {' and '.join(MODEL_FILES)}", {"missing": missing})
        try:
            manifest: dict[str, Any] = json.loads(files["manifest.json"])
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"manifest.json is not JSON: {exc}") from exc
        if (manifest.get("onnx") or {}).get("sha256") != sha256(files["model.onnx"]):
            raise InvalidInput("model.onnx does not match the sha256 its manifest records")
        original = str(manifest.get("version", ""))
        if version is not None and version != original:
            manifest["version"] = version
            if lineage is None:
                lineage = _lineage_of(manifest).model_copy(update={"parent_version": original or None})
        version = str(manifest.get("version", ""))
        if not valid_version(version):
            raise InvalidInput(f"invalid model version {version!r}", [{"field": "version", "message": "invalid"}])
        if tenant is not None and self.store.get_version(None, version) is not None:
            # A tenant's alias may name a global version by its version alone: the two must never share one.
            raise Conflict(f"version {version} is the global default's; register the tenant's under another")
        bodies = {"model.onnx": files["model.onnx"], "manifest.json": json.dumps(manifest, indent=2).encode()}
        if version == original:
            bodies["manifest.json"] = files["manifest.json"]  # unchanged bytes: the shipped sha256 stays valid
        entries = {
            name: ArtifactFile(key=artifact_key(tenant, version, name), sha256=sha256(body), size=len(body))
            for name, body in bodies.items()
        }
        existing = self.store.get_version(tenant, version)
        if existing is not None:
            if {n: f.sha256 for n, f in existing.files.items()} == {n: f.sha256 for n, f in entries.items()}:
                return existing
            raise Conflict(f"model version {version} is already registered with other files; versions are immutable")
        for name, body in bodies.items():
            if not self.blobs.put_once(entries[name].key, body):
                stored = self.blobs.get(entries[name].key)
                if stored is None or sha256(stored) != entries[name].sha256:
                    raise Conflict(f"{entries[name].key} already holds other bytes; versions are immutable")
        record = ModelRecord(
            tenant=tenant,
            version=version,
            name=str(manifest.get("name", "lead_scorer")),
            created_at=manifest.get("created_at"),
            registered_at=self.clock(),
            metrics={k: float(v) for k, v in (manifest.get("metrics") or {}).items()},
            training_rows=training_rows(manifest),
            features=len(manifest.get("feature_names") or []),
            lineage=lineage or _lineage_of(manifest),
            files=entries,
            comparison=comparison,
        )
        if not self.store.put_version(record):
            raced = self.store.get_version(tenant, version)
            if raced is None or raced.files != record.files:
                raise Conflict(f"model version {version} was registered at the same time with other files")
            return raced
        return record

    def register_directory(
        self, tenant: str | None, directory: Path, *, version: str | None = None, lineage: Lineage | None = None
    ) -> ModelRecord:
        files = {name: (directory / name).read_bytes() for name in MODEL_FILES if (directory / name).is_file()}
        return self.register(tenant, files, version=version, lineage=lineage)

    def ensure_global_default(self, directory: Path) -> ModelRecord:
        """The shipped model as the global default, on a process's first use: registered (idempotent), and the
        global production alias moved to it when it is newer than what the alias names (a deploy that ships a new
        model); an older process starting during that deploy never moves it back. Concurrent first uses race on
        the conditional writes and either way leave one default."""
        shipped = str(json.loads((directory / "manifest.json").read_text()).get("version", ""))
        production = self.store.aliases(None).get("production")
        current = production.target if production else None
        if current is not None and version_order(shipped) <= version_order(current.version):
            record = self.store.get_version(None, current.version)
            if record is not None:
                return record
        record = self.register_directory(None, directory)
        if current == AliasTarget(tenant=None, version=record.version):
            return record
        history = [*(production.history if production else []), *([current] if current else [])][-HISTORY_LIMIT:]
        state = AliasState(alias="production", target=AliasTarget(tenant=None, version=record.version),
                           updated_at=self.clock(), history=history)  # fmt: skip
        if self.store.put_alias(None, state, production.updated_at if production else None):
            logger.info("the shipped model is the global default", extra={"version": record.version})
        else:
            logger.info("the global default was changed concurrently", extra={"version": record.version})
        return record

    # ---------------------------------------------------------------- reads
    def versions(self, tenant: str) -> ModelList:
        aliases = self._effective_aliases(tenant)
        serving = aliases.get("production")
        global_production = self._global_production()
        records = [*self.store.versions(tenant), *self.store.versions(None)]
        return ModelList(
            data=[self._view(r, aliases, global_production) for r in records],
            serving=serving.version if serving else None,
        )

    def show(self, tenant: str, version: str) -> ModelVersion:
        record = self._find(tenant, version)
        view = self._view(record, self._effective_aliases(tenant), self._global_production())
        if self.shadow_reports is not None:
            # Only here, not in the list: the figures read every pair and the tenant's outcomes.
            view.shadow = self.shadow_reports.figures(tenant, record.version)
        return view

    # ---------------------------------------------------------------- alias writes
    def set_alias(self, tenant: str, alias: str, version: str | None) -> AliasChange:
        name = _alias(alias)
        if version is None and name == "production":
            raise InvalidInput(
                "production cannot be cleared: name a version (the global default's returns to it)",
                [{"field": "version", "message": "required for the production alias"}],
            )
        current = self.store.aliases(tenant).get(name)
        previous = current.target if current else (self._global_production() if name == "production" else None)
        target: AliasTarget | None = None
        if version is not None:
            record = self._find(tenant, version)
            verified(record, self.blobs)  # refuse a corrupt artifact before anything serves it
            target = AliasTarget(tenant=record.tenant, version=record.version)
        history = list(current.history) if current else []
        if name == "production" and previous is not None and previous != target:
            history = [*history, previous][-HISTORY_LIMIT:]
        return self._write(tenant, name, current, previous, target, history)

    def rollback(self, tenant: str) -> AliasChange:
        """Production back to the version it named before the last promotion (the history keeps 20)."""
        current = self.store.aliases(tenant).get("production")
        if current is None or not current.history:
            raise Conflict("there is no earlier production version to roll back to")
        target = current.history[-1]
        record = self.store.get_version(target.tenant, target.version)
        if record is None:
            raise NotFound(f"the previous production version {target.version} is no longer registered")
        verified(record, self.blobs)
        return self._write(tenant, "production", current, current.target, target, current.history[:-1], True)

    def _write(
        self,
        tenant: str,
        name: Alias,
        current: AliasState | None,
        previous: AliasTarget | None,
        target: AliasTarget | None,
        history: list[AliasTarget],
        rollback: bool = False,
    ) -> AliasChange:
        state = AliasState(alias=name, target=target, updated_at=self.clock(), history=history)
        if not self.store.put_alias(tenant, state, current.updated_at if current else None):
            raise Conflict(f"the {name} alias changed while this request was being handled; read it and retry")
        serving = self._effective_aliases(tenant).get("production")
        change = AliasChange(
            alias=name,
            previous_version=previous.version if previous else None,
            version=target.version if target else None,
            tenant=tenant,
            serving=serving.version if serving else None,
        )
        moved = name == "production" and previous != target and target is not None
        if moved and self.on_production_change is not None:
            assert target is not None  # production is never cleared
            change.rescore_job_id = self._production_changed(tenant, previous, target)
        if name == "production" and previous != target and self.events is not None:
            # Only production moves are promotions: subscribers act on what scores leads, not on a shadow.
            self.events.publish(
                DomainEvent(
                    type="model.promoted",
                    tenant_id=tenant,
                    data={
                        "alias": name,
                        "previous_version": change.previous_version,
                        "version": change.version,
                        "global_default": target is not None and target.tenant is None,
                        "rollback": rollback,
                        "rescore_job_id": change.rescore_job_id,
                    },
                )
            )
        return change

    def _production_changed(self, tenant: str, previous: AliasTarget | None, target: AliasTarget) -> str | None:
        """The alias has moved whatever happens here: a failure to submit the rescoring is logged, not raised,
        so the promotion's answer says what is true (new scores come with each lead's next re-score)."""
        assert self.on_production_change is not None
        try:
            return self.on_production_change(tenant, previous, target)
        except Exception:
            logger.exception("could not submit the rescoring job", extra={"tenant_id": tenant})
            return None

    # ---------------------------------------------------------------- helpers
    def _find(self, tenant: str, version: str) -> ModelRecord:
        record = self.store.get_version(tenant, version) if valid_version(version) else None
        record = record or (self.store.get_version(None, version) if valid_version(version) else None)
        if record is None:
            raise NotFound(
                f"no model version {version!r} for tenant {tenant} or the global default",
                {"version": version},
            )
        return record

    def _global_production(self) -> AliasTarget | None:
        state = self.store.aliases(None).get("production")
        return state.target if state else None

    def _effective_aliases(self, tenant: str) -> dict[Alias, AliasTarget]:
        """The tenant's aliases; production falls back to the global default's."""
        aliases = {n: s.target for n, s in self.store.aliases(tenant).items() if s.target is not None}
        if "production" not in aliases:
            fallback = self._global_production()
            if fallback is not None:
                aliases["production"] = fallback
        return aliases

    @staticmethod
    def _view(
        record: ModelRecord, aliases: Mapping[Alias, AliasTarget], global_production: AliasTarget | None
    ) -> ModelVersion:
        target = AliasTarget(tenant=record.tenant, version=record.version)
        names = [n for n in ALIASES if aliases.get(n) == target]
        return ModelVersion(
            name=record.name,
            version=record.version,
            tenant=record.tenant,
            created_at=record.created_at,
            metrics=record.metrics,
            features=record.features,
            training_rows=record.training_rows,
            lineage=record.lineage,
            comparison=record.comparison,
            aliases=names,
            serving="production" in names,
            global_default=global_production == target,
        )


def _alias(alias: str) -> Alias:
    for name in ALIASES:
        if alias == name:
            return name
    raise NotFound(f"unknown alias {alias!r}: the aliases are {', '.join(ALIASES)}", {"alias": alias})


def _lineage_of(manifest: Mapping[str, Any]) -> Lineage:
    training = manifest.get("training") or {}
    lineage = manifest.get("lineage") or {}
    return Lineage(
        data_snapshot=lineage.get("data_snapshot") or training.get("data_file"),
        data_sha256=lineage.get("data_sha256") or training.get("data_sha256"),
        parent_version=lineage.get("parent_version"),
        code_version=lineage.get("code_version") or training.get("code_version"),
    )
