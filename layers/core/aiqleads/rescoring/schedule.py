"""The scheduled rescoring (template.yaml: the bulk_score function's `Rescore` schedule, every
`RescoreIntervalHours`): one `rescore` job per tenant, cause `rescoring`, over its open leads with the model its
production alias names now, run by the same `Rescorer` as a promotion's. Inputs that change with time (behaviour
that fades, market signals that moved) show in the stored grades without waiting for an event; the job writes and
announces only the leads whose grade moved (`runner.grade_moved`).

Per tenant, in order:

- the job id comes from the schedule event's `time` (`scheduled_job_id`): a redelivered event names the same job,
  which exists already, and nothing starts twice (its message is sent again only if the job never started, for a
  run that died between creating the job and queueing it: the Rescorer's lease makes a duplicate harmless);
- a tenant without a production model, or without a lead created inside the label window, gets no job (one
  Query with Limit 1);
- the tenant's schedule record (JobsTable, job id `rescore-schedule`, kind `rescore_schedule`, never shown by
  GET /v1/jobs) names its latest scheduled job; while that job is still running (queued or in progress, and younger
  than `stale_after_s`) the slot is skipped, so a tenant whose rescoring outlasts the interval never has two. The
  record is leased while it is read and moved, so two invocations of the schedule cannot both start a job.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from aws_lambda_powertools import Logger

from aiqleads.errors import NotFound
from aiqleads.jobs.store import ReleasableJobStore
from aiqleads.models import ScoreCause
from aiqleads.ports import MessageQueue
from aiqleads.registry.label_window import LABEL_WINDOW_DAYS, window_start
from aiqleads.registry.records import AliasTarget
from aiqleads.rescoring.jobs import JOB_TTL_SECONDS, RescoreJob, rescore_message

if TYPE_CHECKING:
    from aiqleads.jobs.status import JobView
    from aiqleads.storage.jobs import StoredJob

logger = Logger(child=True)

SCHEDULE_RECORD_ID: Final = "rescore-schedule"  # per tenant in JobsTable: its latest scheduled job
SCHEDULE_RECORD_KIND: Final = "rescore_schedule"
JOB_PREFIX: Final = "rescore-scheduled-"
STALE_AFTER_SECONDS: Final = 24 * 3600  # a scheduled job still "running" after this has died: not waited for
RECORD_LEASE_SECONDS: Final = 60.0


def scheduled_time(event: Any) -> datetime | None:
    """The `time` of an EventBridge schedule's event (None for anything else: SQS records)."""
    if not isinstance(event, dict) or event.get("detail-type") != "Scheduled Event":
        return None
    text = str(event.get("time") or "")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"a schedule event without a valid time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def scheduled_job_id(moment: datetime) -> str:
    """One job per tenant and schedule slot: the event's time names it (EventBridge redelivers the same event)."""
    return JOB_PREFIX + moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def not_a_job(stored: StoredJob) -> JobView:
    """GET /v1/jobs/rescore-schedule: the schedule's record is bookkeeping, not a job."""
    raise NotFound(f"no job {stored.job_id!r}", {"id": stored.job_id})


class WindowLeads(Protocol):
    def any_since(self, tenant_id: str, since: datetime) -> bool: ...


class Production(Protocol):
    def production(self, tenant_id: str) -> AliasTarget | None: ...


@dataclass
class ScheduledRescores:
    """The schedule's fan-out (the bulk_score function, on its `Rescore` schedule event)."""

    jobs: ReleasableJobStore
    queue: MessageQueue  # BulkQueue: the Rescorer runs each job
    leads: WindowLeads
    models: Production
    window_days: int = LABEL_WINDOW_DAYS
    stale_after_s: float = STALE_AFTER_SECONDS
    clock: Callable[[], float] = field(default=time.time)

    def run(self, tenant_ids: Iterable[str], at: datetime) -> dict[str, Any]:
        """One job per tenant that has open leads; what happened to each (for the invocation's answer, logs)."""
        outcomes = {tenant: self.submit(tenant, at) for tenant in tenant_ids}
        started = sorted(tenant for tenant, outcome in outcomes.items() if outcome == "queued")
        logger.info("scheduled rescoring", extra={"at": at.isoformat(), "outcomes": outcomes})
        return {"job_id": scheduled_job_id(at), "queued": len(started), "tenants": outcomes}

    def submit(self, tenant: str, at: datetime) -> str:
        """queued | already queued | no model | no open leads | busy (its previous scheduled job still runs)."""
        job_id = scheduled_job_id(at)
        existing = self.jobs.get(tenant, job_id)
        if existing is not None:  # a redelivered schedule event
            if existing.status == "running" and not existing.record.get("started"):
                self.queue.send(rescore_message(tenant, job_id))  # it may never have been queued
            return "already queued"
        target = self.models.production(tenant)
        if target is None:
            return "no model"  # nothing registered yet: the shipped model scored every lead, and still would
        since = window_start(at, self.window_days)
        if not self.leads.any_since(tenant, since):
            return "no open leads"
        owner = uuid.uuid4().hex
        record = self._lease_record(tenant, owner)
        if record is None:
            return "busy"  # another invocation of the schedule is deciding for this tenant
        try:
            latest = record.record.get("job_id")
            if latest and latest != job_id and self._running(tenant, str(latest)):
                self.jobs.release(tenant, SCHEDULE_RECORD_ID, owner)
                return "busy"
            now = self.clock()
            # The record first: a crash after it and before the job leaves a record naming no job, which waits
            # for nothing; the other order could leave a running job the next slot does not see.
            self.jobs.save(tenant, SCHEDULE_RECORD_ID, owner, self._record(job_id), expires_at=self._expiry(now))
            job = RescoreJob(
                cause=ScoreCause.RESCORING,
                tenant_id=tenant,
                job_id=job_id,
                previous_version=target.version,
                version=target.version,
                target=target,
                since=since,
                created_at=now,
            )
            if self.jobs.create(tenant, job_id, job.model_dump(mode="json"), self._expiry(now)):
                self.queue.send(rescore_message(tenant, job_id))
            self.jobs.release(tenant, SCHEDULE_RECORD_ID, owner)
        except BaseException:
            try:
                self.jobs.release(tenant, SCHEDULE_RECORD_ID, owner)
            except Exception:
                logger.exception("could not release the rescoring schedule's record", extra={"tenant_id": tenant})
            raise
        return "queued"

    def _lease_record(self, tenant: str, owner: str) -> StoredJob | None:
        if self.jobs.get(tenant, SCHEDULE_RECORD_ID) is None:
            self.jobs.create(tenant, SCHEDULE_RECORD_ID, self._record(None), self._expiry(self.clock()))
        return self.jobs.acquire(tenant, SCHEDULE_RECORD_ID, owner, RECORD_LEASE_SECONDS)

    def _running(self, tenant: str, job_id: str) -> bool:
        stored = self.jobs.get(tenant, job_id)
        if stored is None or stored.status != "running":
            return False
        age = self.clock() - float(stored.record.get("created_at") or 0.0)
        if age > self.stale_after_s:
            logger.warning("a scheduled rescoring never finished; not waiting for it",
                           extra={"tenant_id": tenant, "job_id": job_id, "age_s": round(age)})  # fmt: skip
            return False
        return True

    @staticmethod
    def _record(job_id: str | None) -> dict[str, Any]:
        return {"kind": SCHEDULE_RECORD_KIND, "job_id": job_id}

    @staticmethod
    def _expiry(now: float) -> int:
        return int(now) + JOB_TTL_SECONDS
