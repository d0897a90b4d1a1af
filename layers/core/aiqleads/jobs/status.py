"""What GET /v1/jobs/{id} reports about a background job, whichever kind it is.

Each kind reads its own record (bulk: `aiqleads.bulk.state.job_view`; recommendations:
`aiqleads.recommendations.jobs.job_view`; market signal files: `aiqleads.markets.imports.job_view`; rescoring after
a promotion: `aiqleads.rescoring.jobs.job_view`) into one `JobView`; `JobStatuses` picks the reader by the record's
kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel

from aiqleads.errors import NotFound
from aiqleads.jobs.store import JobStore
from aiqleads.registry.records import TrainingResult

if TYPE_CHECKING:
    from aiqleads.storage.jobs import StoredJob

JobKind = Literal["recommendations", "bulk_score", "market_signals", "rescore", "training", "monitor"]
Status = Literal["queued", "running", "completed", "failed"]


class JobProgress(BaseModel):
    done: int
    total: int
    percent: float


class ResultLocation(BaseModel):
    bucket: str
    key: str


class JobView(BaseModel):
    id: str
    kind: JobKind
    status: Status
    progress: JobProgress
    result: ResultLocation | None = None
    errors: ResultLocation | None = None
    error: str | None = None
    created_at: str | None = None
    completed_at: str | None = None
    # Training jobs only: the stage running, whether a failure was a refusal (too little history), the model made.
    stage: str | None = None
    refused: bool | None = None
    model: TrainingResult | None = None
    # Monitoring jobs only: the run's id, versions watched, headline figures and alerts (the run itself is at
    # GET /v1/models/{version}/health and GET /v1/monitoring/runs).
    monitoring: dict[str, Any] | None = None

    @classmethod
    def of(
        cls,
        stored: StoredJob,
        kind: JobKind,
        done: int,
        total: int,
        *,
        status: Status | None = None,
        result: ResultLocation | None = None,
        errors: ResultLocation | None = None,
        error: str | None = None,
        created_at: float | None = None,
        completed_at: float | None = None,
    ) -> JobView:
        """The view of a stored job from what its kind read in the record (status: the stored one by default)."""
        state = status or cast(Status, stored.status)
        percent = 100.0 if state == "completed" else (round(100.0 * done / total, 1) if total else 0.0)
        return cls(
            id=stored.job_id,
            kind=kind,
            status=state,
            progress=JobProgress(done=done, total=total, percent=percent),
            result=result,
            errors=errors,
            error=error,
            created_at=_stamp(created_at),
            completed_at=_stamp(completed_at),
        )


def _stamp(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


JobReader = Callable[["StoredJob"], JobView]


@dataclass(frozen=True, slots=True)
class JobStatuses:
    """Any job's status; a record without a kind of its own is read by `default` (bulk jobs predate kinds)."""

    store: JobStore
    readers: Mapping[str, JobReader]
    default: JobReader

    def get(self, tenant_id: str, job_id: str) -> JobView:
        stored = self.store.get(tenant_id, job_id)
        if stored is None:
            raise NotFound(f"no job {job_id!r}", {"id": job_id})
        return self.readers.get(str(stored.record.get("kind")), self.default)(stored)
