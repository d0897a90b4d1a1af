"""The model registry and serving's alias resolution, on in-memory stores: registration, aliases and their
history, `model.promoted`, corrupt artifacts, tenant isolation, the session LRU and the alias TTL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aiqleads.composition import default_scorer
from aiqleads.errors import Conflict, InvalidInput, NotFound
from aiqleads.models import Lead
from aiqleads.registry.service import CorruptArtifact, ModelRegistry
from aiqleads.registry.serving import ModelResolver
from tests.fakes import MemoryEvents
from tests.registry_fakes import MemoryBlobs, MemoryRegistryStore, memory_registry, shipped_files

LEAD = Lead.model_validate(
    {"id": "l-1", "source": "zillow", "intent": "sell", "contact": {"email": "a@example.com"},
     "property": {"type": "condo", "price": 300000, "market": "austin"}}
)  # fmt: skip


def resolver(registry: ModelRegistry, tmp_path: Path, ttl: float = 0.0, **options: Any) -> ModelResolver:
    return ModelResolver(
        registry.store,  # type: ignore[arg-type]
        registry.blobs,
        cache_dir=tmp_path,
        ttl_seconds=ttl,
        fallback=default_scorer,
        **options,
    )


def events(registry: ModelRegistry) -> list[Any]:
    assert isinstance(registry.events, MemoryEvents)
    return registry.events.published


def test_the_shipped_model_is_the_global_default_with_its_training_rows_and_lineage() -> None:
    registry = memory_registry()
    listed = registry.versions("demo")
    (entry,) = listed.data
    assert (entry.version, entry.tenant, entry.global_default, entry.serving) == ("2.0.0", None, True, True)
    assert entry.aliases == ["production"]  # the tenant has none of its own: the default is its production
    assert entry.training_rows == 197_978
    assert entry.metrics["roc_auc"] > 0.7
    assert entry.lineage.data_sha256
    assert entry.lineage.parent_version is None
    assert listed.serving == "2.0.0"
    # Registering it again (another process's first use) changes nothing.
    assert registry.ensure_global_default(default_scorer().artifact.directory).version == "2.0.0"
    assert len(registry.store.versions(None)) == 1


def test_promote_then_roll_back_announces_each_move_and_keeps_the_other_tenant_on_the_default() -> None:
    registry = memory_registry()
    record = registry.register("demo", shipped_files(), version="3.0.0")
    assert record.lineage.parent_version == "2.0.0"
    promoted = registry.set_alias("demo", "production", "3.0.0")
    assert (promoted.previous_version, promoted.version, promoted.serving) == ("2.0.0", "3.0.0", "3.0.0")
    assert registry.versions("acme-realty").serving == "2.0.0"
    assert [v.version for v in registry.versions("acme-realty").data] == ["2.0.0"]  # demo's are not listed
    with pytest.raises(NotFound):
        registry.set_alias("acme-realty", "production", "3.0.0")  # another tenant's version is no target
    back = registry.rollback("demo")
    assert (back.previous_version, back.version) == ("3.0.0", "2.0.0")
    with pytest.raises(Conflict, match="no earlier production version"):
        registry.rollback("demo")
    kinds = [(e.type, e.tenant_id, e.data["previous_version"], e.data["version"]) for e in events(registry)]
    assert kinds == [("model.promoted", "demo", "2.0.0", "3.0.0"), ("model.promoted", "demo", "3.0.0", "2.0.0")]
    assert events(registry)[-1].data["rollback"] is True


def test_shadow_is_set_and_cleared_without_a_promotion_and_production_cannot_be_cleared() -> None:
    registry = memory_registry()
    registry.register("demo", shipped_files(), version="3.0.0")
    assert registry.set_alias("demo", "shadow", "3.0.0").version == "3.0.0"
    assert registry.show("demo", "3.0.0").aliases == ["shadow"]
    assert registry.set_alias("demo", "shadow", None).version is None
    assert registry.show("demo", "3.0.0").aliases == []
    with pytest.raises(InvalidInput):
        registry.set_alias("demo", "production", None)
    with pytest.raises(NotFound, match="unknown alias"):
        registry.set_alias("demo", "champion", "3.0.0")
    with pytest.raises(NotFound, match=r"no model version '9\.9\.9'"):
        registry.set_alias("demo", "production", "9.9.9")
    assert events(registry) == []


def test_versions_are_immutable_and_never_shadow_the_global_default() -> None:
    registry = memory_registry()
    registry.register("demo", shipped_files(), version="3.0.0")
    assert registry.register("demo", shipped_files(), version="3.0.0").version == "3.0.0"  # same bytes: the same
    other = shipped_files()
    other["model.onnx"] += b" "
    with pytest.raises(InvalidInput, match="sha256"):
        registry.register("demo", other, version="4.0.0")  # the pair must belong together
    with pytest.raises(Conflict, match="global default"):
        registry.register("demo", shipped_files())  # 2.0.0 is the global default's
    with pytest.raises(InvalidInput, match="invalid model version"):
        registry.register("demo", shipped_files(), version="../x")


def test_a_corrupt_artifact_is_refused_at_promotion() -> None:
    registry = memory_registry()
    record = registry.register("demo", shipped_files(), version="3.0.0")
    blobs = registry.blobs
    assert isinstance(blobs, MemoryBlobs)
    blobs.objects[record.files["model.onnx"].key] += b"tampered"
    with pytest.raises(CorruptArtifact, match=r"model\.onnx does not match the sha256"):
        registry.set_alias("demo", "production", "3.0.0")
    assert registry.versions("demo").serving == "2.0.0"
    assert events(registry) == []


def test_serving_follows_the_alias_per_tenant_and_keeps_the_previous_session_on_a_corrupt_load(
    tmp_path: Path,
) -> None:
    registry = memory_registry()
    serve = resolver(registry, tmp_path)
    assert serve("demo").model_version == serve("acme-realty").model_version == "2.0.0"
    registry.register("demo", shipped_files(), version="3.0.0")
    registry.set_alias("demo", "production", "3.0.0")
    assert serve("demo").score_lead(LEAD, {}).model_version == "3.0.0"  # no new resolver: a warm swap
    assert serve("acme-realty").score_lead(LEAD, {}).model_version == "2.0.0"  # never demo's model
    registry.register("demo", shipped_files(), version="4.0.0")
    registry.set_alias("demo", "production", "4.0.0")
    blobs = registry.blobs
    assert isinstance(blobs, MemoryBlobs)
    blobs.objects[registry.store.get_version("demo", "4.0.0").files["model.onnx"].key] = b"not a model"  # type: ignore[union-attr]
    assert serve("demo").model_version == "3.0.0"  # refused at load: the previous session keeps serving
    registry.rollback("demo")
    assert serve("demo").model_version == "3.0.0"


def test_the_alias_is_read_at_most_once_per_ttl_and_sessions_are_bounded(tmp_path: Path) -> None:
    registry = memory_registry()
    now = [0.0]
    serve = resolver(registry, tmp_path, ttl=60.0, max_sessions=2, clock=lambda: now[0])
    assert serve("demo").model_version == "2.0.0"
    for version in ("3.0.0", "4.0.0", "5.0.0"):
        registry.register("demo", shipped_files(), version=version)
    registry.set_alias("demo", "production", "3.0.0")
    assert serve("demo").model_version == "2.0.0"  # within the TTL: what it read
    now[0] = 61.0
    assert serve("demo").model_version == "3.0.0"
    for step, version in enumerate(("4.0.0", "5.0.0"), start=2):
        registry.set_alias("demo", "production", version)
        now[0] = 61.0 * step
        assert serve("demo").model_version == version
    assert serve.sessions() == [("demo", "4.0.0"), ("demo", "5.0.0")]  # at most two, least recent dropped


def test_without_a_registered_default_the_shipped_model_serves(tmp_path: Path) -> None:
    registry = ModelRegistry(MemoryRegistryStore(), MemoryBlobs(), MemoryEvents())
    assert resolver(registry, tmp_path)("demo").model_version == "2.0.0"


def test_a_newer_shipped_model_becomes_the_default_and_an_older_one_never_moves_it_back(tmp_path: Path) -> None:
    registry = memory_registry()
    newer = tmp_path / "2.1.0"
    newer.mkdir()
    manifest = json.loads(shipped_files()["manifest.json"])
    (newer / "model.onnx").write_bytes(shipped_files()["model.onnx"])
    (newer / "manifest.json").write_text(json.dumps({**manifest, "version": "2.1.0"}))
    assert registry.ensure_global_default(newer).version == "2.1.0"  # a deploy that ships 2.1.0
    assert registry.versions("demo").serving == "2.1.0"
    assert registry.ensure_global_default(default_scorer().artifact.directory).version == "2.1.0"  # 2.0.0 is older
    assert registry.versions("demo").serving == "2.1.0"


def test_a_registry_that_cannot_be_read_leaves_the_tenant_on_its_model(tmp_path: Path) -> None:
    registry = memory_registry()
    serve = resolver(registry, tmp_path)
    assert serve("demo").model_version == "2.0.0"

    def unreachable(tenant: str | None, name: str) -> None:
        raise TimeoutError("read timed out")

    registry.store.alias = unreachable  # type: ignore[attr-defined]
    assert serve("demo").model_version == "2.0.0"
    with pytest.raises(TimeoutError):
        serve("never-scored")  # nothing to keep: the request fails rather than guess


def test_the_shadow_resolves_per_tenant_and_a_broken_one_is_dropped(tmp_path: Path) -> None:
    registry = memory_registry()
    serve = resolver(registry, tmp_path)
    assert serve.shadow("demo") is None  # no alias: nothing to shadow with
    registry.register("demo", shipped_files(), version="3.0.0")
    registry.set_alias("demo", "shadow", "3.0.0")
    shadow = serve.shadow("demo")
    assert shadow is not None
    assert shadow.model_version == "3.0.0"
    assert serve("demo").model_version == "2.0.0"  # production is untouched
    assert serve.shadow("acme-realty") is None  # never another tenant's
    blobs = registry.blobs
    assert isinstance(blobs, MemoryBlobs)
    registry.register("demo", shipped_files(), version="4.0.0")
    registry.set_alias("demo", "shadow", "4.0.0")
    blobs.objects[registry.store.get_version("demo", "4.0.0").files["model.onnx"].key] = b"not a model"  # type: ignore[union-attr]
    assert serve.shadow("demo") is None  # refused at load: no shadow rather than a wrong one

    def unreachable(tenant: str | None, name: str) -> None:
        raise TimeoutError("read timed out")

    registry.store.alias = unreachable  # type: ignore[attr-defined]
    assert serve.shadow("demo") is None  # an unreadable registry skips the shadow; it never raises
