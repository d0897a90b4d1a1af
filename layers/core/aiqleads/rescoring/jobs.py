"""A rescoring job: its record in JobsTable (kind `rescore`, leased like bulk jobs), how GET /v1/jobs/{id} shows
it, and its submission when a tenant's production alias moves (`RescoreJobs.submit` is the registry's
`ProductionChanged` port). The schedule submits the same job with cause `rescoring` (`rescoring.schedule`).

The message goes to BulkQueue delayed by the model alias TTL: by the time the job starts, every warm function
has re-read the alias, so no lead is scored by the old version after the job has passed it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, Field

from aiqleads.jobs.status import JobView
from aiqleads.jobs.store import JobStore
from aiqleads.models import ScoreCause
from aiqleads.ports import MessageQueue
from aiqleads.registry.label_window import LABEL_WINDOW_DAYS, window_start
from aiqleads.registry.records import AliasTarget

if TYPE_CHECKING:
    from aiqleads.storage.jobs import StoredJob

JOB_KIND: Final = "rescore"
MESSAGE_TYPE: Final = "rescore"  # BulkQueue: {"type": "rescore", "tenant_id", "job_id"}
JOB_TTL_SECONDS: Final = 30 * 24 * 3600
MAX_DELAY_SECONDS: Final = 900  # SQS's limit on DelaySeconds


class RescoreCheckpoint(BaseModel):
    """Progress as of the last save: every lead before `after` (TenantIndex order) is done."""

    after: dict[str, str] | None = None
    pages: int = 0
    examined: int = 0  # leads of the window read
    rescored: int = 0  # leads scored again (valid, no outcome)
    written: int = 0  # score items written: every rescored lead after a promotion, the moved ones on a schedule
    decided: int = 0  # skipped: an outcome is recorded
    invalid: int = 0  # stored leads today's validation refuses: their score is left as it was
    grades_moved: int = 0
    events_published: int = 0
    events_suppressed: int = 0  # grade moves not announced: the run's cap was reached
    invocations: int = 0
    processing_s: float = 0.0


class RescoreJob(BaseModel):
    kind: Literal["rescore"] = JOB_KIND
    tenant_id: str
    job_id: str
    previous_version: str | None
    version: str
    target: AliasTarget  # exactly this version scores: never whatever a process cached
    since: datetime  # the label window's start, pinned when submitted
    created_at: float
    started: bool = False
    total: int | None = None  # leads in the window, counted when the job starts
    completed_at: float | None = None
    error: str | None = None
    superseded: bool = False  # production moved again before the end: the newer job finishes the work
    checkpoint: RescoreCheckpoint = Field(default_factory=RescoreCheckpoint)
    # What the score history says wrote the scores: the rescoring after a promotion (every open lead written, by
    # the new version), or a scheduled one (the same version again, for inputs that change with time: only the
    # leads whose grade moved are written and announced).
    cause: ScoreCause = ScoreCause.PROMOTION
    # When the job first started: its history items' time and, with the job id, their key (a redone page puts
    # the same items again).
    started_at: datetime | None = None


def rescore_message(tenant_id: str, job_id: str) -> dict[str, Any]:
    return {"type": MESSAGE_TYPE, "tenant_id": tenant_id, "job_id": job_id}


def job_view(stored: StoredJob) -> JobView:
    """Queued until a worker starts it; then leads examined of those in the window."""
    job = RescoreJob.model_validate(stored.record)
    done = job.checkpoint.examined
    return JobView.of(
        stored,
        JOB_KIND,
        done,
        max(job.total or 0, done),
        status="queued" if stored.status == "running" and not job.started else None,
        error=job.error,
        created_at=job.created_at,
        completed_at=job.completed_at,
    )


@dataclass
class RescoreJobs:
    """Submits the rescoring of a tenant's open leads (the API's side)."""

    jobs: JobStore
    queue: MessageQueue  # BulkQueue: the bulk_score function runs the job
    delay_seconds: float = 0.0  # the model alias TTL
    window_days: int = LABEL_WINDOW_DAYS
    clock: Callable[[], float] = field(default=time.time)

    def submit(
        self,
        tenant: str,
        previous: AliasTarget | None,
        target: AliasTarget,
        cause: ScoreCause = ScoreCause.PROMOTION,
    ) -> str:
        now = self.clock()
        job = RescoreJob(
            cause=cause,
            tenant_id=tenant,
            job_id=f"rescore-{uuid.uuid4().hex[:20]}",
            previous_version=previous.version if previous else None,
            version=target.version,
            target=target,
            since=window_start(datetime.fromtimestamp(now, UTC), self.window_days),
            created_at=now,
        )
        self.jobs.create(tenant, job.job_id, job.model_dump(mode="json"), int(now) + JOB_TTL_SECONDS)
        delay = min(MAX_DELAY_SECONDS, int(-(-self.delay_seconds // 1)))  # whole seconds, rounded up
        self.queue.send(rescore_message(tenant, job.job_id), delay_seconds=delay)
        return job.job_id

    __call__ = submit  # the registry's ProductionChanged port
