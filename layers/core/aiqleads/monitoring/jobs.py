"""Monitoring jobs: `POST /v1/monitoring/runs` (the api function), `aiqleads monitor run` and the schedule (one per
tenant, template.yaml's MonitorSchedule) submit one; the monitor function runs it from MonitorQueue.

A job record (JobsTable, leased like the other jobs) goes queued -> running -> completed with the run's id and
summary, or failed with the reason. The job id is the run's id, so `GET /v1/jobs/{id}` and
`GET /v1/monitoring/runs` name the same thing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel

from aiqleads.jobs.status import JobView
from aiqleads.jobs.store import JobStore
from aiqleads.ports import MessageQueue

if TYPE_CHECKING:
    from aiqleads.monitoring.runner import Monitor
    from aiqleads.storage.jobs import StoredJob

JOB_KIND: Final = "monitor"
JOB_TTL_SECONDS = 30 * 24 * 3600
LEASE_SECONDS = 900.0  # the function's timeout: a job whose invocation died is taken over after it


class MonitorJobAccepted(BaseModel):
    job_id: str
    status: Literal["queued"] = "queued"
    status_url: str


def job_view(stored: StoredJob) -> JobView:
    record: dict[str, Any] = stored.record
    done = 1 if stored.status == "completed" else 0
    view = JobView.of(
        stored,
        JOB_KIND,
        done,
        1,
        status="queued" if stored.status == "running" and not record.get("started") else None,
        error=record.get("error"),
        created_at=record.get("created_at"),
        completed_at=record.get("completed_at"),
    )
    return view.model_copy(update={"monitoring": record.get("summary")})


@dataclass
class MonitorJobs:
    jobs: JobStore
    queue: MessageQueue | None  # the API, the CLI and the schedule queue jobs here
    monitor: Monitor | None = None  # only the monitor function runs them
    clock: Callable[[], float] = field(default=time.time)

    def submit(self, tenant_id: str, *, trigger: str = "request") -> MonitorJobAccepted:
        if self.queue is None:
            raise RuntimeError("monitoring jobs are submitted where a monitor queue is configured")
        job_id = f"mon-{uuid.uuid4().hex[:20]}"
        now = self.clock()
        record = {"kind": JOB_KIND, "trigger": trigger, "created_at": now, "done": 0}
        self.jobs.create(tenant_id, job_id, record, int(now) + JOB_TTL_SECONDS)
        self.queue.send({"kind": JOB_KIND, "tenant_id": tenant_id, "job_id": job_id})
        return MonitorJobAccepted(job_id=job_id, status_url=f"/v1/jobs/{job_id}")

    def schedule(self, tenant_ids: Iterable[str]) -> list[str]:
        return [self.submit(t, trigger="schedule").job_id for t in tenant_ids]

    def run(self, tenant_id: str, job_id: str, owner: str) -> str:
        """Run the job if it is ours to run; returns what happened (for logs and tests). An error fails the
        invocation (the message is retried, then dead-lettered) with the lease given back."""
        if self.monitor is None:
            raise RuntimeError("monitoring jobs run in the monitor function")
        stored = self.jobs.acquire(tenant_id, job_id, owner, LEASE_SECONDS)
        if stored is None:
            return "skipped"  # completed, unknown, or another worker holds it
        record = dict(stored.record)
        record.update(started=True)
        self.jobs.save(tenant_id, job_id, owner, record)
        try:
            run = self.monitor.run(tenant_id, run_id=job_id)
        except Exception as error:
            record.update(error=f"{type(error).__name__}: {error}"[:500])
            self.jobs.save(tenant_id, job_id, owner, record, release=True)
            raise
        summary = {
            "run_id": run.id,
            "production_version": run.production.version,
            "shadow_version": run.shadow.version if run.shadow else None,
            "leads": run.production.leads,
            "outcomes": run.production.performance.outcomes,
            "psi_max": run.production.psi_max,
            "live_auc": run.production.performance.roc_auc.value,
            "alerts": [a.model_dump() for a in run.alerts],
            "training_job_id": run.training_job_id,
            "run_url": f"/v1/models/{run.production.version}/health",
        }
        record.update(summary=summary, done=1, completed_at=self.clock(), error=None)
        self.jobs.save(tenant_id, job_id, owner, record, status="completed", release=True)
        return "completed"


def monitor_message(body: str) -> tuple[str, str]:
    """(tenant, job id) of a MonitorQueue message; anything else raises (retried, then dead-lettered)."""
    message = json.loads(body)
    if not isinstance(message, dict) or message.get("kind") != JOB_KIND:
        raise ValueError(f"not a monitoring job message: {body[:200]}")
    for key in ("tenant_id", "job_id"):
        if not isinstance(message.get(key), str):
            raise ValueError(f"monitoring job message without {key!r}")
    return message["tenant_id"], message["job_id"]
