"""Recommendation jobs: POST /v1/recommendations/generate queues one; the recommendations_job function runs it.

The job record (JobsTable, leased like bulk jobs) keeps the request, `as_of` (pinned when submitted, so a rerun
ranks exactly as the first run would) and progress. The worker ranks each buyer's first page, writes one JSON
line per buyer to `results/recommendations/<job id>.jsonl` in the uploads bucket, completes the job and
publishes `recommendations.ready`. A buyer that fails (unknown, no markets) gets an error line, not a failed job.
A redelivered message whose job is completed (or leased by another worker) does nothing; a job whose worker died
is taken over when its lease expires and starts over (buyers are cheap and the result is the same).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Protocol

from pydantic import BaseModel, Field

from aiqleads.errors import DomainError
from aiqleads.iam import Access, access
from aiqleads.jobs.status import JobView, ResultLocation
from aiqleads.jobs.store import JobStore
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.ports import EventSink, MessageQueue
from aiqleads.recommendations.service import RecommendationService

if TYPE_CHECKING:
    from aiqleads.storage.jobs import StoredJob

JOB_KIND: Final = "recommendations"
MAX_BUYERS = 100
RESULTS_PREFIX = "results/recommendations/"
JOB_TTL_SECONDS = 30 * 24 * 3600
LEASE_SECONDS = 900.0
SAVE_EVERY = 10  # buyers between progress saves


class GenerateRequest(BaseModel):
    buyer_ids: list[str] = Field(min_length=1, max_length=MAX_BUYERS, description="buyers to rank leads for")
    limit: int = Field(default=20, ge=1, le=100, description="recommendations per buyer")
    score_min: int = Field(default=0, ge=0, le=100)
    market: str | None = None


class JobAccepted(BaseModel):
    job_id: str
    status: Literal["queued"] = "queued"
    status_url: str


class Objects(Protocol):
    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str | None = None) -> None: ...


def job_view(stored: StoredJob) -> JobView:
    """A recommendation job as GET /v1/jobs/{id} reports it: queued until a worker has started it."""
    record: dict[str, Any] = stored.record
    completed = stored.status == "completed"
    return JobView.of(
        stored,
        JOB_KIND,
        int(record.get("done", 0)),
        int(record.get("total", 0)),
        status="queued" if stored.status == "running" and not record.get("started") else None,
        result=ResultLocation(bucket=record["bucket"], key=record["results_key"]) if completed else None,
        error=record.get("error"),
        created_at=record.get("created_at"),
        completed_at=record.get("completed_at"),
    )


@dataclass
class RecommendationJobs:
    recommendations: RecommendationService
    jobs: JobStore
    queue: MessageQueue
    objects: Objects
    events: EventSink
    bucket: str | None  # where results go: None where jobs are only submitted (the API)
    clock: Callable[[], float] = field(default=time.time)

    # Each job's results, one object (a single PutObject).
    IAM: ClassVar[tuple[Access, ...]] = (access("s3:PutObject", on="bucket", path=f"{RESULTS_PREFIX}*"),)

    def submit(self, tenant_id: str, request: GenerateRequest) -> JobAccepted:
        job_id = f"rec-{uuid.uuid4().hex[:20]}"
        now = self.clock()
        record = {
            "kind": JOB_KIND,
            "request": request.model_dump(),
            "as_of": int(now),
            "created_at": now,
            "done": 0,
            "total": len(request.buyer_ids),
            "results_key": f"{RESULTS_PREFIX}{job_id}.jsonl",
        }
        self.jobs.create(tenant_id, job_id, record, int(now) + JOB_TTL_SECONDS)
        self.queue.send({"kind": JOB_KIND, "tenant_id": tenant_id, "job_id": job_id})
        return JobAccepted(job_id=job_id, status_url=f"/v1/jobs/{job_id}")

    def run(self, tenant_id: str, job_id: str, owner: str) -> str:
        """Run the job if it is ours to run; returns what happened (for logs and tests)."""
        stored = self.jobs.acquire(tenant_id, job_id, owner, LEASE_SECONDS)
        if stored is None:
            return "skipped"  # completed, failed, unknown, or another worker holds it
        record = dict(stored.record)
        request = GenerateRequest.model_validate(record["request"])
        record.update(started=True, done=0)
        lines: list[str] = []
        served = 0
        as_of = datetime.fromtimestamp(int(record["as_of"]), UTC)
        for index, buyer_id in enumerate(request.buyer_ids, start=1):
            try:
                page = self.recommendations.recommend(
                    tenant_id,
                    buyer_id,
                    limit=request.limit,
                    score_min=request.score_min,
                    market=request.market,
                    as_of=as_of,
                )
                served += len(page.data)
                line: dict[str, Any] = {"buyer_id": buyer_id, **page.model_dump(mode="json")}
            except DomainError as error:
                line = {"buyer_id": buyer_id, **error.envelope()}
            lines.append(json.dumps(line, separators=(",", ":")))
            record["done"] = index
            if index % SAVE_EVERY == 0 and index < len(request.buyer_ids):
                self.jobs.save(tenant_id, job_id, owner, record)
        if self.bucket is None:
            raise RuntimeError(
                "recommendation jobs run where they have a results bucket (the recommendations_job function)"
            )
        body = ("\n".join(lines) + "\n").encode()
        self.objects.put_bytes(self.bucket, record["results_key"], body, "application/x-ndjson")
        record.update(bucket=self.bucket, completed_at=self.clock(), recommendations=served)
        self.jobs.save(tenant_id, job_id, owner, record, status="completed", release=True)
        self.events.publish(
            DomainEvent(
                type="recommendations.ready",
                tenant_id=tenant_id,
                data={
                    "job_id": job_id,
                    "buyers": len(request.buyer_ids),
                    "recommendations": served,
                    "bucket": self.bucket,
                    "results_key": record["results_key"],
                },
            )
        )
        return "completed"
