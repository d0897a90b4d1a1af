"""What background jobs (bulk uploads, recommendation jobs) need from their store: one record per job, written
only by the holder of its lease (`storage.jobs.JobRepository` implements it on JobsTable)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aiqleads.storage.jobs import StoredJob


class JobStore(Protocol):
    def get(self, tenant_id: str, job_id: str) -> StoredJob | None: ...
    def create(self, tenant_id: str, job_id: str, record: dict[str, Any], expires_at: int) -> bool: ...
    def acquire(self, tenant_id: str, job_id: str, owner: str, lease_seconds: float) -> StoredJob | None: ...
    def save(
        self,
        tenant_id: str,
        job_id: str,
        owner: str,
        record: dict[str, Any],
        *,
        status: str = "running",
        release: bool = False,
        expires_at: int | None = None,
    ) -> None: ...


class ReleasableJobStore(JobStore, Protocol):
    """A store whose lease a failing invocation can give back, so that its retry starts at once."""

    def release(self, tenant_id: str, job_id: str, owner: str) -> None: ...
