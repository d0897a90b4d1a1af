"""The rescoring job, run by the bulk_score function: a tenant's open leads scored again with the version its
production alias now names, through the one batch path (`scoring.batch.score_table`, as bulk files are).

Open: created inside the label window (`registry.label_window`) with no outcome recorded. The job reads them a
page at a time (TenantIndex), with each lead's current behaviour totals and its market's latest signals (the
inputs real-time re-scoring uses), writes the new score items (so the ScoreIndex moves with them) and announces
`lead.score_changed` only for leads whose grade moved, at most `event_cap` per run; then one `model.rescored`
with the counts, including the moves it did not announce.

Like a bulk job it holds a lease in JobsTable and writes only while holding it: a redelivered message finds the
job completed or leased and does nothing. After every page the checkpoint (the TenantIndex position, the counts)
is saved; with less than `time_margin_s` left the job sends itself a continuation, and a job whose invocation
died is taken over from its last checkpoint once the lease lapses. A page redone after a crash writes the same
scores again and announces nothing twice (its grades have already moved), though its moves go uncounted.

If production moves again before the job ends, the job stops (`superseded`): the newer promotion's job rescores
every open lead anyway.

The job's `cause` decides what is written. After a promotion (`promotion`) every rescored lead's score item is
written: its model version changed. On the schedule (`rescoring`, submitted by `rescoring.schedule`: the same
version, so that inputs which change with time show) only the leads whose grade moved are written and announced;
whether it moved is `grade_moved`'s decision, the one place that compares a stored score with a new one.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pyarrow as pa
from aws_lambda_powertools import Logger

from aiqleads import telemetry
from aiqleads.features.behaviour import BehaviourTotals
from aiqleads.features.market import market_signals
from aiqleads.jobs.store import ReleasableJobStore
from aiqleads.leads import trend
from aiqleads.leads.history import HistoryStamp
from aiqleads.models import MarketSnapshot, ScoreCause
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.ports import EventSink, MessageQueue
from aiqleads.registry.records import AliasTarget
from aiqleads.rescoring.columns import lead_table
from aiqleads.rescoring.jobs import JOB_TTL_SECONDS, RescoreJob, rescore_message
from aiqleads.scoring.batch import ScoredBatch, score_table
from aiqleads.scoring.scorer import BatchScores, Scorer
from aiqleads.storage.batch import write_slices
from aiqleads.storage.lead_items import BatchHistory, score_requests

if TYPE_CHECKING:
    from aiqleads.storage.open_leads import StoredLead

logger = Logger(child=True)

RemainingMillis = Callable[[], int]
RESCORE_EVENT_CAP = 100  # lead.score_changed per run, at most: a promotion must not flood subscribers
PAGE_ROWS = 500


def grade_moved(previous: StoredLead, current: BatchScores, row: int) -> bool:
    """Whether the new score of a lead (row `row` of a scored batch) moved its grade or its matrix grade from the
    stored score's (engagement fading moves the matrix digit first): what a rescoring announces, and all that a
    scheduled one writes. A lead never scored has moved."""
    if previous.grade != str(current.grade[row]):
        return True
    matrix = current.matrix_grade
    return matrix is not None and previous.matrix_grade != str(matrix[row])


def _halves(scores: BatchScores, row: int) -> dict[str, Any]:
    """A row's fit, engagement and matrix grade, as the events function's score events carry them."""
    if scores.fit is None or scores.engagement is None or scores.matrix_grade is None:
        return {"fit": None, "engagement": None, "matrix_grade": None}
    return {
        "fit": int(scores.fit[row]),
        "engagement": int(scores.engagement[row]),
        "matrix_grade": str(scores.matrix_grade[row]),
    }


def _rows(requests: list[str], leads: int, rows: Sequence[int]) -> list[str]:
    """The put requests of some leads: a batch's requests are each lead's items in lead order, the same number
    per lead (its score item and its history item)."""
    per, extra = divmod(len(requests), leads) if leads else (0, 0)
    if extra:
        raise ValueError(f"{len(requests)} put requests for {leads} leads: not the same number for each lead")
    return [request for row in rows for request in requests[row * per : (row + 1) * per]]


class OpenLeads(Protocol):
    def count(self, tenant_id: str, since: datetime) -> int: ...
    def decided(self, tenant_id: str) -> set[str]: ...
    def page(
        self, tenant_id: str, since: datetime, limit: int, after: dict[str, str] | None = None
    ) -> tuple[list[StoredLead], dict[str, str] | None]: ...


class Totals(Protocol):
    def get_many(self, tenant_id: str, lead_ids: Sequence[str]) -> dict[str, BehaviourTotals]: ...


class Markets(Protocol):
    def latest(self, tenant_id: str, market: str) -> MarketSnapshot | None: ...


class ScoreWriter(Protocol):
    def write_requests(self, requests: Sequence[str]) -> int: ...


class Models(Protocol):
    """`registry.serving.ModelResolver`: the alias read fresh, and a named version's scorer."""

    def production(self, tenant_id: str) -> AliasTarget | None: ...
    def version(self, target: AliasTarget) -> Scorer: ...


@dataclass(frozen=True, slots=True)
class RescoreOptions:
    page_rows: int = PAGE_ROWS
    event_cap: int = RESCORE_EVENT_CAP
    time_margin_s: float = 60.0
    lease_margin_s: float = 60.0
    write_threads: int = 4  # concurrent BatchWriteItem callers, as the bulk job has
    history_retention_days: int = 180  # template.yaml: ScoreHistoryRetentionDays


@dataclass
class Rescorer:
    jobs: ReleasableJobStore
    leads: OpenLeads
    totals: Totals
    markets: Markets
    writer: ScoreWriter
    events: EventSink
    queue: MessageQueue  # its own continuations (BulkQueue)
    models: Models
    options: RescoreOptions = field(default_factory=RescoreOptions)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def handle(self, tenant_id: str, job_id: str, remaining_ms: RemainingMillis) -> str:
        """Advance the job as far as this invocation's time allows; returns what happened (logs, tests)."""
        stored = self.jobs.get(tenant_id, job_id)
        if stored is None:
            logger.warning("rescoring message for an unknown job", extra={"job_id": job_id})
            return "unknown job"
        if stored.status != "running":
            return f"already {stored.status}"  # a redelivered message: the job ran
        owner = uuid.uuid4().hex
        leased = self.jobs.acquire(tenant_id, job_id, owner, remaining_ms() / 1000.0 + self.options.lease_margin_s)
        if leased is None:
            return "busy"
        job = RescoreJob.model_validate(leased.record)
        job.started = True
        job.started_at = job.started_at or self.clock()
        job.checkpoint.invocations += 1
        mark = time.monotonic()
        try:
            return self._run(job, owner, remaining_ms, mark)
        except BaseException:
            # What is in memory is ahead of the checkpoint: give the lease back so the retry resumes at once.
            try:
                self.jobs.release(tenant_id, job_id, owner)
            except Exception:
                logger.exception("could not release the rescoring job's lease", extra={"job_id": job_id})
            raise

    def _run(self, job: RescoreJob, owner: str, remaining_ms: RemainingMillis, mark: float) -> str:
        cp = job.checkpoint
        if self.models.production(job.tenant_id) != job.target:
            return self._finish(job, owner, mark, superseded=True)
        try:
            scorer = self.models.version(job.target)
        except Exception as exc:  # unregistered, corrupt: this version cannot rescore anything
            job.error = f"cannot load model {job.version}: {exc}"
            return self._finish(job, owner, mark, failed=True)
        if job.total is None:
            job.total = self.leads.count(job.tenant_id, job.since)
            self._save(job, owner, mark)
            mark = time.monotonic()
        decided = self.leads.decided(job.tenant_id)
        signals: dict[str, dict[str, float] | None] = {}  # per market, for this invocation
        margin_ms = self.options.time_margin_s * 1000.0
        tenant, since, rows = job.tenant_id, job.since, self.options.page_rows
        # The next page is read while this one is scored and written: both mostly wait on DynamoDB.
        with ThreadPoolExecutor(1, thread_name_prefix="rescore-read") as reader:
            pending = reader.submit(self.leads.page, tenant, since, rows, cp.after)
            first = True
            while True:
                if not first and remaining_ms() < margin_ms:
                    cp.processing_s += time.monotonic() - mark
                    self.jobs.save(tenant, job.job_id, owner, job.model_dump(mode="json"), release=True)
                    self.queue.send(rescore_message(tenant, job.job_id))
                    logger.info("rescoring checkpointed", extra={"job_id": job.job_id, "examined": cp.examined})
                    return "checkpointed"  # a page read ahead is read again by the next invocation
                if not first and self.models.production(tenant) != job.target:
                    return self._finish(job, owner, mark, superseded=True)
                first = False
                page, after = pending.result()
                if after is not None:
                    pending = reader.submit(self.leads.page, tenant, since, rows, after)
                undecided = [lead for lead in page if lead.lead_id not in decided]
                cp.decided += len(page) - len(undecided)
                self._rescore(job, scorer, undecided, signals)
                cp.examined += len(page)
                cp.pages += 1
                cp.after = after
                if after is None:
                    return self._finish(job, owner, mark)
                self._save(job, owner, mark)
                mark = time.monotonic()

    def _rescore(
        self, job: RescoreJob, scorer: Scorer, leads: list[StoredLead], signals: dict[str, dict[str, float] | None]
    ) -> None:
        cp = job.checkpoint
        if not leads:
            return
        tenant, now = job.tenant_id, self.clock()
        totals = self.totals.get_many(tenant, [lead.lead_id for lead in leads])
        for market in {lead.market for lead in leads} - signals.keys():
            snapshot = self.markets.latest(tenant, market)
            signals[market] = market_signals(snapshot) if snapshot is not None else None
        table = lead_table(
            [lead.lead_json for lead in leads],
            [totals.get(lead.lead_id) for lead in leads],
            [signals[lead.market] for lead in leads],
            now,
            scorer.spec.half_life_days,
        )
        scored = score_table(scorer, table)
        valid = [lead for lead, ok in zip(leads, scored.validated.valid.tolist(), strict=True) if ok]
        cp.invalid += len(leads) - len(valid)
        if not valid:
            return
        cp.rescored += len(valid)
        telemetry.leads_scored("rescoring", scored.scores.grade.tolist())
        moved = np.array([row for row, lead in enumerate(valid) if grade_moved(lead, scored.scores, row)], dtype=int)
        cp.grades_moved += len(moved)
        promotion = job.cause == ScoreCause.PROMOTION
        if promotion or len(moved):
            sold = pa.array([lead.sold_exclusive_at for lead in valid], type=pa.string())
            # Each score item with its history item (the job's cause, dated by its start and keyed by its id) and
            # its trend points: the old item's, extended.
            stamp = HistoryStamp(job.started_at or now, job.cause, job.job_id)
            history = BatchHistory(stamp, self.options.history_retention_days)
            recent = [trend.loads(lead.recent_scores) for lead in valid]
            requests = score_requests(tenant, scored, now, sold_exclusive_at=sold, history=history, recent=recent)
            if not promotion:
                requests = _rows(requests, len(valid), moved.tolist())  # the schedule: only the moved ones
            self._write(requests)
            cp.written += len(valid) if promotion else len(moved)
        room = max(0, self.options.event_cap - cp.events_published)
        announced = moved[:room]
        cp.events_suppressed += len(moved) - len(announced)
        if len(announced):
            self.events.publish_many([self._changed(job, scored, valid, int(row)) for row in announced])
            cp.events_published += len(announced)

    def _write(self, requests: list[str]) -> None:
        """In slices of whole BatchWriteItem calls on a few threads: the calls wait on the network, and a page's
        writes would otherwise be as many round trips in a row."""
        slices = write_slices(requests, self.options.write_threads)  # a lead's items never split between calls
        with ThreadPoolExecutor(len(slices)) as pool:
            list(pool.map(self.writer.write_requests, slices))  # re-raises the first failure

    @staticmethod
    def _changed(job: RescoreJob, scored: ScoredBatch, valid: list[StoredLead], row: int) -> DomainEvent:
        """`lead.score_changed` as the events function publishes it, with the promotion (or the schedule) as its
        trigger."""
        lead, scores, columns = valid[row], scored.scores, scored.columns
        reasons: list[dict[str, Any]] = json.loads(scored.explainer.reason_json(scores.reasons)[row].as_py())
        return DomainEvent(
            type="lead.score_changed",
            tenant_id=job.tenant_id,
            data={
                "lead_id": lead.lead_id,
                "market": lead.market,
                "source": columns["source"][row].as_py(),
                "score": int(scores.score[row]),
                "grade": str(scores.grade[row]),
                **_halves(scores, row),
                "probability": float(scores.probability[row]),
                "model_version": scores.model_version,
                "reasons": [reason["text"] for reason in reasons],
                "previous": (
                    None
                    if lead.grade is None
                    else {"score": lead.score, "grade": lead.grade, "matrix_grade": lead.matrix_grade}
                ),
                "trigger": (
                    {"action": "model.promoted", "job_id": job.job_id, "previous_version": job.previous_version}
                    if job.cause == ScoreCause.PROMOTION
                    else {"action": "rescoring", "job_id": job.job_id}
                ),
            },
        )

    def _save(self, job: RescoreJob, owner: str, mark: float) -> None:
        job.checkpoint.processing_s += time.monotonic() - mark
        self.jobs.save(job.tenant_id, job.job_id, owner, job.model_dump(mode="json"))

    def _finish(
        self, job: RescoreJob, owner: str, mark: float, *, superseded: bool = False, failed: bool = False
    ) -> str:
        """The summary event (its id derives from the job's, so a retried finish publishes the same event),
        then the job closed."""
        cp = job.checkpoint
        job.superseded = superseded
        job.completed_at = time.time()
        cp.processing_s += time.monotonic() - mark
        status = "failed" if failed else "completed"
        if not failed:
            self.events.publish(self.summary(job))
        self.jobs.save(job.tenant_id, job.job_id, owner, job.model_dump(mode="json"), status=status,
                       release=True, expires_at=int(time.time()) + JOB_TTL_SECONDS)  # fmt: skip
        logger.info(
            "rescoring finished",
            extra={"job_id": job.job_id, "cause": job.cause, "status": status, "superseded": superseded,
                   "rescored": cp.rescored, "grades_moved": cp.grades_moved, "written": cp.written,
                   "seconds": round(cp.processing_s, 3)},
        )  # fmt: skip
        return "superseded" if superseded else status

    @staticmethod
    def summary(job: RescoreJob) -> DomainEvent:
        cp = job.checkpoint
        return DomainEvent(
            id=f"evt_{job.job_id}",
            type="model.rescored",
            tenant_id=job.tenant_id,
            data={
                "job_id": job.job_id,
                "cause": job.cause.value,
                "previous_version": job.previous_version,
                "version": job.version,
                "leads_rescored": cp.rescored,
                "grades_moved": cp.grades_moved,
                "events_published": cp.events_published,
                "events_suppressed": cp.events_suppressed,
                "leads_written": cp.written,
                "leads_examined": cp.examined,
                "leads_with_outcome": cp.decided,
                "invalid": cp.invalid,
                "superseded": job.superseded,
                "processing_s": round(cp.processing_s, 3),
            },
        )
