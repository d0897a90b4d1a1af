"""Which model scores a tenant's leads: its production alias, else the global default's, else the shipped model.

Every scoring function holds one resolver per process. A tenant's alias is read at most every `ttl_seconds`
(ModelAliasTtlSeconds), so a promotion reaches warm functions within that time without a redeploy or a cold start:
the new version's session is created beside the old ones, and the next score uses it. Sessions are kept per
version in a small LRU (each costs a few MB), files are downloaded once per process into `cache_dir` (/tmp in
Lambda) and checked against the sha256 the registry recorded. A version that cannot be loaded (missing, corrupt)
is refused, logged, and the tenant keeps the model it had (or the shipped one on a cold start).

The shipped model is the fallback while the registry holds no global default yet: the API registers it on first
use (and the local cloud at start), while events and bulk only read the registry.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from aws_lambda_powertools import Logger

from aiqleads.registry.records import Alias, AliasState, AliasTarget, ModelRecord
from aiqleads.registry.service import ArtifactSource, CorruptArtifact, owner_path, verified
from aiqleads.scoring.artifact import ModelArtifact, ModelMismatchError, sha256_file
from aiqleads.scoring.scorer import Scorer

logger = Logger(child=True)  # under the function's Powertools logger, whatever its service name

MAX_SESSIONS = 4


class AliasReader(Protocol):
    def alias(self, tenant: str | None, name: Alias) -> AliasState | None: ...
    def get_version(self, tenant: str | None, version: str) -> ModelRecord | None: ...


class ModelUnavailable(RuntimeError):
    """A registered version whose artifact cannot be served."""


class ModelResolver:
    def __init__(
        self,
        store: AliasReader,
        blobs: ArtifactSource,
        *,
        cache_dir: Path,
        ttl_seconds: float,
        fallback: Callable[[], Scorer],
        max_sessions: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.store, self.blobs, self.cache_dir, self.ttl_seconds = store, blobs, cache_dir, ttl_seconds
        self.fallback, self.max_sessions, self.clock = fallback, max_sessions, clock
        self._tenants: dict[str, tuple[float, Scorer]] = {}
        self._shadows: dict[str, tuple[float, Scorer | None]] = {}
        self._sessions: OrderedDict[tuple[str | None, str], Scorer] = OrderedDict()
        # Bulk scores batches on several threads: one resolution and one session load at a time.
        self._lock = threading.Lock()

    def __call__(self, tenant_id: str) -> Scorer:
        return self.scorer(tenant_id)

    def scorer(self, tenant_id: str) -> Scorer:
        cached = self._tenants.get(tenant_id)
        if cached is not None and self.clock() - cached[0] < self.ttl_seconds:
            return cached[1]
        with self._lock:
            scorer = self._resolve(tenant_id, cached[1] if cached else None)
            self._tenants[tenant_id] = (self.clock(), scorer)
            return scorer

    def shadow(self, tenant_id: str) -> Scorer | None:
        """The model the tenant's shadow alias names, or None (no shadow, or it cannot be read or loaded: a
        shadow is an experiment, so it is dropped and logged rather than ever standing in the way of a score).
        Re-read at most every `ttl_seconds`, like production; its session shares the same LRU."""
        cached = self._shadows.get(tenant_id)
        if cached is not None and self.clock() - cached[0] < self.ttl_seconds:
            return cached[1]
        with self._lock:
            scorer: Scorer | None = None
            try:
                # The tenant's own alias only: the global default's shadow (if any) is not the tenant's experiment.
                state = self.store.alias(tenant_id, "shadow")
                if state is not None and state.target is not None:
                    scorer = self._load(state.target)
            except Exception as exc:  # registry unreachable, corrupt artifact: the shadow waits for the next TTL
                logger.warning(
                    "could not resolve the shadow model; shadow scoring skipped",
                    extra={"tenant_id": tenant_id, "error": str(exc)},
                )
            self._shadows[tenant_id] = (self.clock(), scorer)
            return scorer

    def production(self, tenant_id: str) -> AliasTarget | None:
        """What the tenant's production alias names now (its own, else the global default's), read fresh: a
        rescoring job must not act on what this process cached before the promotion it follows."""
        return self._production(tenant_id)

    def version(self, target: AliasTarget) -> Scorer:
        """A named version's scorer (sessions shared with the aliases'; ModelUnavailable, CorruptArtifact and
        ModelMismatchError raised, never swapped for another model: a rescoring job scores with exactly its
        version or not at all)."""
        with self._lock:
            return self._load(target)

    def sessions(self) -> list[tuple[str | None, str]]:
        """The (tenant, version) of each session held, least recently used first."""
        return list(self._sessions)

    def _resolve(self, tenant_id: str, previous: Scorer | None) -> Scorer:
        try:
            target = self._production(tenant_id)
        except Exception as exc:  # the registry unreachable (throttled, timed out): any AWS error, from storage/
            if previous is None:
                raise
            logger.warning(
                "could not read the model aliases; the tenant keeps its model",
                extra={"tenant_id": tenant_id, "kept": previous.model_version, "error": str(exc)},
            )
            return previous
        if target is None:
            return self.fallback()
        try:
            return self._load(target)
        except (CorruptArtifact, ModelMismatchError, ModelUnavailable) as exc:
            kept = previous or self.fallback()
            logger.error(
                "refused to load a model; the tenant keeps its previous one",
                extra={
                    "tenant_id": tenant_id,
                    "version": target.version,
                    "kept": kept.model_version,
                    "error": str(exc),
                },
            )
            return kept

    def _production(self, tenant_id: str) -> AliasTarget | None:
        for owner in (tenant_id, None):
            state = self.store.alias(owner, "production")
            if state is not None and state.target is not None:
                return state.target
        return None

    def _load(self, target: AliasTarget) -> Scorer:
        key = (target.tenant, target.version)
        scorer = self._sessions.get(key)
        if scorer is not None:
            self._sessions.move_to_end(key)
            return scorer
        record = self.store.get_version(target.tenant, target.version)
        if record is None:
            raise ModelUnavailable(f"model {target.version} is not registered")
        scorer = Scorer(ModelArtifact.open(self._files(record)))
        self._sessions[key] = scorer
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return scorer

    def _files(self, record: ModelRecord) -> Path:
        """The version's directory in the process cache, each file as registered (downloaded when absent or
        different). Named by the manifest's sha256 too: processes sharing a cache directory (local clouds, whose
        registries may hold other bytes under the same version) never serve each other's files."""
        digest = record.files["manifest.json"].sha256[:16]
        directory = self.cache_dir / owner_path(record.tenant) / f"{record.version}-{digest}"
        if all(
            (directory / name).is_file() and sha256_file(directory / name) == entry.sha256
            for name, entry in record.files.items()
        ):
            return directory
        files = verified(record, self.blobs)
        directory.mkdir(parents=True, exist_ok=True)
        for name, body in files.items():
            partial = directory / f".{name}.{os.getpid()}.{threading.get_ident()}"
            partial.write_bytes(body)
            partial.replace(directory / name)  # atomic: another process never reads half a file
        return directory
