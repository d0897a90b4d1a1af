"""A bulk job's record (JobsTable `record`) and its checkpoint: everything needed to continue where it stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from aiqleads.jobs.status import JobView, ResultLocation

if TYPE_CHECKING:
    from aiqleads.storage.jobs import StoredJob

JobStatus = Literal["running", "completed", "failed"]
# scoring: rows are being scored; finishing: every row is done, results are being assembled and published
Stage = Literal["scoring", "finishing"]


class Checkpoint(BaseModel):
    """Progress as of the last save. Rows before `rows_done` are in the output (uploaded parts + the tail
    object, or the Parquet segments), in the errors object and in DynamoDB; nothing after them is."""

    stage: Stage = "scoring"
    seq: int = 0  # bumped by every save; the tail/errors/segment objects carry it, so a save is all-or-nothing
    rows_done: int = 0  # parsed data rows consumed (valid or not), in file order
    scored: int = 0
    invalid: int = 0
    error_lines: int = 0
    upload_id: str | None = None
    parts: list[tuple[int, str]] = Field(default_factory=list)  # (part number, ETag) uploaded before this save
    tail_key: str | None = None  # output bytes not yet in a part (< one part)
    errors_key: str | None = None  # error lines so far
    segments: list[str] = Field(default_factory=list)  # Parquet: one scored segment object per invocation
    invocations: int = 0
    processing_s: float = 0.0
    shadowed: int = 0  # rows also scored by the tenant's shadow version (pairs stored aside)
    shadow_failed: int = 0  # batches whose shadow scoring failed (logged; the job goes on)


class BulkJob(BaseModel):
    tenant_id: str
    job_id: str
    bucket: str
    key: str
    version_id: str | None = None
    etag: str = ""
    size: int = 0
    format: str | None = None  # csv | jsonl | parquet; None: unsupported
    results_key: str
    errors_key: str
    model_version: str
    created_at: float
    status: JobStatus = "running"
    completed_at: float | None = None
    rows: int = 0
    unreadable: int = 0
    error: str | None = None
    checkpoint: Checkpoint = Field(default_factory=Checkpoint)


def job_view(stored: StoredJob) -> JobView:
    """A bulk job as GET /v1/jobs/{id} reports it: rows done of the rows counted so far, results once completed."""
    job = BulkJob.model_validate(stored.record)
    done = job.checkpoint.rows_done
    completed = stored.status == "completed"
    return JobView.of(
        stored,
        "bulk_score",
        done,
        max(job.rows, done),
        result=ResultLocation(bucket=job.bucket, key=job.results_key) if completed else None,
        errors=ResultLocation(bucket=job.bucket, key=job.errors_key) if completed else None,
        error=job.error,
        created_at=job.created_at,
        completed_at=job.completed_at,
    )
