"""The bulk scoring job: an uploaded lead file -> results file, errors file, DynamoDB items, `bulk.completed`.

One job per uploaded object version (the job id hashes bucket, key and version, or the ETag when the bucket is
not versioned), kept in JobsTable. A job runs in as many invocations as it needs:

1. The object is downloaded to local disk (/tmp) and read in batches of `batch_rows` (bounded memory).
2. Each batch goes through the batch path `aiqleads score` uses (`scoring.batch.score_table`: same columns, same
   errors file lines); its output bytes are appended to an S3 multipart upload (a part whenever `part_bytes` have
   gathered), its bad rows to a local errors file, and its valid rows are upserted as lead + score items built
   from the validated columns (`storage.lead_items`, BatchWriteItem).
3. When the invocation's remaining time falls under `time_margin_s`, the job saves a checkpoint (rows done, the
   upload id and part ETags, the output tail and the errors so far as temporary objects under `bulk-work/`),
   sends itself a continuation message and returns. The next invocation downloads the file again and skips the
   rows already done without scoring them (re-reading is cheap next to scoring), then continues the same
   multipart upload.
4. A checkpoint is also saved at part boundaries every `checkpoint_every_s` seconds. Every checkpoint is written
   after the parts it names were uploaded and is all-or-nothing (its objects carry a sequence number and the job
   record names the current ones), so an invocation that crashes is redone from the last checkpoint: rows are
   neither lost nor duplicated in the results (re-uploaded parts replace the orphans with the same numbers; the
   DynamoDB writes are idempotent upserts).
   While the tenant's shadow alias names a version (`ModelResolver.shadow`, resolved when the slice starts), each
   batch is also scored by it and the pairs stored aside (`storage.shadow.shadow_requests`, a column at a time,
   the real-time path's items): never in the results file, never announced; a shadow failure is logged and
   counted (`shadow_failed`) and never fails the job. Without a shadow nothing extra runs.
5. When every row is done: the output is completed, the errors file is written beside it, `bulk.completed` is
   published (its event id derives from the job id, so a retry publishes the same event) and the job is marked
   completed. A redelivered notification for a finished job does nothing.

Parquet output cannot be appended to across invocations (its footer describes every row group), so a Parquet job
writes one segment per invocation (temporary objects) and merges their row groups at the end: the same bytes as
a one-shot run. An unsupported extension or an unreadable file fails the job with the reason in the errors
file, the job record and a `bulk.completed` event with status "failed".
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, ClassVar, Protocol, TextIO

import numpy as np
import pyarrow as pa
from aws_lambda_powertools import Logger

from aiqleads import telemetry
from aiqleads.bulk.output import MultipartOutput, PartStore, UploadGone, merge_segments
from aiqleads.bulk.requests import (
    RESULTS_PREFIX,
    UPLOADS_PREFIX,
    WORK_PREFIX,
    ContinueRequest,
    UploadRequest,
    as_continuation,
    job_id_for,
    results_keys,
    work_prefix,
)
from aiqleads.bulk.state import BulkJob, Checkpoint
from aiqleads.bulk.tenancy import Refusal, UploadTenancy
from aiqleads.files.tabular import (
    CONTENT_TYPES,
    ParquetTableWriter,
    TableReader,
    encode_bytes,
    format_of,
    unsupported_type,
)
from aiqleads.iam import NOTIFYING_BUCKET, Access, access
from aiqleads.jobs.store import ReleasableJobStore
from aiqleads.leads.history import HistoryStamp
from aiqleads.models import ScoreCause
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.ports import EventSink, MessageQueue
from aiqleads.scoring.batch import ScoredBatch, score_table
from aiqleads.scoring.scorer import BatchScores, Scorer
from aiqleads.settings import BulkSettings
from aiqleads.storage.batch import write_slices
from aiqleads.storage.lead_items import BatchHistory, put_requests
from aiqleads.storage.shadow import shadow_requests

if TYPE_CHECKING:
    from aiqleads.storage.jobs import StoredJob
    from aiqleads.storage.objects import ObjectInfo

logger = Logger(child=True)

RemainingMillis = Callable[[], int]


# ------------------------------------------------------------------------------------------------ collaborators
class ObjectStorage(PartStore, Protocol):
    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo | None: ...
    def download(self, bucket: str, key: str, path: Path, version_id: str | None = None) -> None: ...
    def get_bytes(self, bucket: str, key: str) -> bytes: ...
    def upload_file(self, bucket: str, key: str, path: Path, content_type: str | None = None) -> None: ...
    def delete(self, bucket: str, keys: Sequence[str]) -> None: ...


class LeadWriter(Protocol):
    def write_requests(self, requests: Sequence[str]) -> int: ...


class _Clock:
    """Processing seconds, added to the job at each save."""

    def __init__(self) -> None:
        self.mark = time.monotonic()

    def lap(self) -> float:
        now = time.monotonic()
        elapsed, self.mark = now - self.mark, now
        return elapsed


class _Checkpointed(Exception):
    """Raised inside scoring once the checkpoint is saved and the continuation sent."""


def _rows(scores: BatchScores, rows: np.ndarray) -> BatchScores:
    return BatchScores(
        probability=scores.probability[rows],
        score=scores.score[rows],
        grade=scores.grade[rows],
        reasons=scores.reasons,  # all rows' still: a pair stores no reasons
        model_version=scores.model_version,
    )


def _slices(reader: TableReader, rows: int) -> Iterator[pa.Table]:
    """The reader's batches cut to at most `rows` rows (CSV batches follow Arrow's blocks and can be larger)."""
    for table in reader.batches():
        for offset in range(0, table.num_rows, rows):
            yield table.slice(offset, rows)


# ------------------------------------------------------------------------------------------------ outputs
class _Output(Protocol):
    def write(self, table: pa.Table, first: bool) -> bool: ...
    def save(self, checkpoint: Checkpoint, prefix: str) -> list[str]: ...


class _ByteOutput:
    """CSV / JSON Lines: encoded batches appended to the multipart upload."""

    def __init__(self, runner: BulkScorer, job: BulkJob, fmt: str, tail: bytes):
        cp = job.checkpoint
        self.objects, self.job, self.fmt = runner.objects, job, fmt
        self.upload = MultipartOutput(
            runner.objects,
            job.bucket,
            job.results_key,
            part_bytes=runner.settings.part_bytes,
            content_type=CONTENT_TYPES[fmt],
            upload_id=cp.upload_id,
            parts=cp.parts,
            tail=tail,
        )

    def write(self, table: pa.Table, first: bool) -> bool:
        return self.upload.write(encode_bytes(self.fmt, table, first))

    def save(self, checkpoint: Checkpoint, prefix: str) -> list[str]:
        stale = [checkpoint.tail_key] if checkpoint.tail_key else []
        checkpoint.upload_id, checkpoint.parts = self.upload.upload_id, list(self.upload.parts)
        checkpoint.tail_key = f"{prefix}tail-{checkpoint.seq:06d}"
        self.objects.put_bytes(self.job.bucket, checkpoint.tail_key, self.upload.tail)
        return stale


class _ParquetOutput:
    """Parquet: this invocation's rows in a local segment, uploaded as a temporary object at each save."""

    def __init__(self, runner: BulkScorer, job: BulkJob, workdir: Path):
        self.objects, self.job, self.workdir = runner.objects, job, workdir
        self.segment = ParquetTableWriter(workdir / "segment-0.parquet")

    def write(self, table: pa.Table, first: bool) -> bool:
        self.segment.write(table)
        return True

    def save(self, checkpoint: Checkpoint, prefix: str) -> list[str]:
        if self.segment.close():
            key = f"{prefix}segment-{checkpoint.seq:06d}.parquet"
            self.objects.upload_file(self.job.bucket, key, self.segment.path)
            checkpoint.segments.append(key)
        self.segment = ParquetTableWriter(self.workdir / f"segment-{checkpoint.seq}.parquet")
        return []


# ------------------------------------------------------------------------------------------------ the job runner
class BulkScorer:
    # The objects it reads and writes, in the bucket that notified it: the upload (head, and download by
    # version), the results (multipart, aborted when the job fails; head: already completed?), the job's
    # checkpoint objects (upload_file goes multipart above 8 MiB, and s3transfer aborts what fails).
    # head() tells an absent object by S3's 404, which needs ListBucket (else 403).
    IAM: ClassVar[tuple[Access, ...]] = (
        access("s3:GetObject", "s3:GetObjectVersion", on=NOTIFYING_BUCKET, path=f"{UPLOADS_PREFIX}*"),
        access(
            "s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject", on=NOTIFYING_BUCKET, path=f"{RESULTS_PREFIX}*"
        ),
        access(
            "s3:PutObject",
            "s3:AbortMultipartUpload",
            "s3:GetObject",
            "s3:DeleteObject",
            on=NOTIFYING_BUCKET,
            path=f"{WORK_PREFIX}*",
        ),
        access("s3:ListBucket", on=NOTIFYING_BUCKET),
    )

    def __init__(
        self,
        *,
        objects: ObjectStorage,
        jobs: ReleasableJobStore,
        leads: LeadWriter,
        events: EventSink,
        queue: MessageQueue,
        scorer: Callable[[str], Scorer],  # tenant -> the model scoring its leads
        settings: BulkSettings,
        tenancy: UploadTenancy,  # whose upload it is, or its refusal
        shadow: Callable[[str], Scorer | None] | None = None,  # tenant -> its shadow model, if any
    ):
        self.objects, self.jobs, self.leads, self.events, self.queue = objects, jobs, leads, events, queue
        self.tenancy = tenancy
        self.scorer = scorer
        self.settings = settings
        self.shadow = shadow
        self.shadow_failures = 0  # per process, as ShadowScoring counts real-time ones

    # ---------------------------------------------------------------- entry point
    def handle(self, request: UploadRequest | ContinueRequest, remaining_ms: RemainingMillis) -> str:
        """Advance the job the request names as far as this invocation's time allows; returns what happened."""
        stored: StoredJob | None
        if isinstance(request, ContinueRequest):
            stored = self.jobs.get(request.tenant_id, request.job_id)
            if stored is None:
                logger.warning("continuation for an unknown job", extra={"job_id": request.job_id})
                return "unknown job"
        else:
            found = self._job_for_upload(request)
            if found is None:
                return "object gone"
            if isinstance(found, Refusal):
                return self.tenancy.refuse(request, results_keys(request.key)[1], found)
            stored = found
        if stored.status != "running":
            logger.info("job already finished", extra={"job_id": stored.job_id, "status": stored.status})
            return f"already {stored.status}"
        return self._run(stored.tenant_id, stored.job_id, remaining_ms)

    def _job_for_upload(self, request: UploadRequest) -> StoredJob | Refusal | None:
        info = self.objects.head(request.bucket, request.key, request.version_id)
        if info is None:
            logger.warning("uploaded object is gone", extra={"bucket": request.bucket, "key": request.key})
            return None
        tenant = self.tenancy.establish(request.key, info.metadata)
        if isinstance(tenant, Refusal):
            return tenant
        job_id = job_id_for(request.bucket, request.key, info.version_id or info.etag)
        existing = self.jobs.get(tenant, job_id)
        if existing is not None:
            return existing
        results_key, errors_key = results_keys(request.key)
        job = BulkJob(
            tenant_id=tenant,
            job_id=job_id,
            bucket=request.bucket,
            key=request.key,
            version_id=info.version_id,
            etag=info.etag,
            size=info.size,
            format=format_of(request.key),
            results_key=results_key,
            errors_key=errors_key,
            model_version=self.scorer(tenant).model_version,
            created_at=time.time(),
        )
        self.jobs.create(tenant, job_id, job.model_dump(mode="json"), self._expires_at())
        logger.info("bulk job created", extra={"job_id": job_id, "tenant_id": tenant, "key": request.key})
        return self.jobs.get(tenant, job_id)

    def _expires_at(self) -> int:
        return int(time.time()) + self.settings.job_ttl_days * 86_400

    def _run(self, tenant_id: str, job_id: str, remaining_ms: RemainingMillis) -> str:
        owner = uuid.uuid4().hex
        lease_seconds = remaining_ms() / 1000.0 + 60.0
        stored = self.jobs.acquire(tenant_id, job_id, owner, lease_seconds)
        if stored is None:
            logger.info("job is finished or held by another invocation", extra={"job_id": job_id})
            return "busy"
        job = BulkJob.model_validate(stored.record)
        job.checkpoint.invocations += 1
        clock = _Clock()
        workdir = Path(tempfile.mkdtemp(prefix=f"{job_id}-", dir=self.settings.work_dir))
        try:
            if job.format is None:
                return self._fail(job, owner, clock, unsupported_type(job.key))
            errors_path = workdir / "errors.jsonl"
            if job.checkpoint.stage == "scoring":
                try:
                    self._score(job, owner, workdir, errors_path, remaining_ms, clock)
                except _Checkpointed:
                    return "checkpointed"
                except (pa.ArrowException, UnicodeDecodeError) as exc:
                    return self._fail(job, owner, clock, f"cannot read {PurePosixPath(job.key).name}: {exc}")
            else:
                self._restore_errors(job, errors_path)
            return self._finish(job, owner, workdir, errors_path, clock)
        except BaseException:
            # The state in memory is ahead of the checkpoint: only the lease is given back, so the retry starts
            # at once from the last checkpoint. (A hard stop - timeout, out of memory - cannot do this; its lease
            # then lapses by itself, long before SQS makes the message visible again.)
            with contextlib.suppress(Exception):
                self.jobs.release(tenant_id, job_id, owner)
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    # ---------------------------------------------------------------- scoring
    def _restore_errors(self, job: BulkJob, errors_path: Path) -> None:
        if job.checkpoint.errors_key:
            self.objects.download(job.bucket, job.checkpoint.errors_key, errors_path)
        else:
            errors_path.write_bytes(b"")

    def _score(
        self,
        job: BulkJob,
        owner: str,
        workdir: Path,
        errors_path: Path,
        remaining_ms: RemainingMillis,
        clock: _Clock,
    ) -> None:
        cp = job.checkpoint
        local = workdir / f"input{PurePosixPath(job.key).suffix.lower()}"
        self.objects.download(job.bucket, job.key, local, job.version_id)
        self._restore_errors(job, errors_path)
        output: _Output
        if job.format == "parquet":
            output = _ParquetOutput(self, job, workdir)
        else:
            assert job.format is not None  # _run fails a job of no known format before scoring
            tail = self.objects.get_bytes(job.bucket, cp.tail_key) if cp.tail_key else b""
            output = _ByteOutput(self, job, job.format, tail)
        scorer = self.scorer(job.tenant_id)  # the tenant's production model, resolved when the slice starts
        if scorer.model_version != job.model_version:
            logger.warning(
                "the model changed during the job",
                extra={"job_id": job.job_id, "started_with": job.model_version, "now": scorer.model_version},
            )
        shadow = self._shadow_model(job, scorer)
        reader = TableReader(local, batch_rows=self.settings.batch_rows)
        margin_ms = self.settings.time_margin_s * 1000.0
        position = processed = 0
        last_save = time.monotonic()
        with errors_path.open("a", encoding="utf-8") as errors, ThreadPoolExecutor(self.settings.write_threads) as pool:
            for batch in _slices(reader, self.settings.batch_rows):
                start, position = position, position + batch.num_rows
                if position <= cp.rows_done:
                    continue  # done in an earlier invocation: read again, never scored again
                if start < cp.rows_done:
                    batch, start = batch.slice(cp.rows_done - start), cp.rows_done
                if processed and remaining_ms() < margin_ms:
                    self._save(job, owner, output, errors, clock, release=True)
                    self.queue.send(as_continuation(job.tenant_id, job.job_id))
                    logger.info("bulk job checkpointed", extra={"job_id": job.job_id, "rows_done": cp.rows_done})
                    raise _Checkpointed
                scored = score_table(scorer, batch, start + 1)
                part_uploaded = output.write(scored.table, first=start == 0)
                error_lines = scored.error_lines()
                errors.writelines(json.dumps(error) + "\n" for error in error_lines)
                # With the lead, the score item carries its card: recommendations rank it without reading the lead.
                # A row's outcome (history in the upload) becomes its conversion item, dated by the job's creation
                # when the row gives no outcome_at: the same keys however often the batch is redone.
                # Each score's history item (cause ingest) is dated and keyed by the job the same way.
                uploaded_at = datetime.fromtimestamp(job.created_at, UTC)
                history = BatchHistory(HistoryStamp(uploaded_at, ScoreCause.INGEST, job.job_id),
                                       self.settings.score_history_retention_days)  # fmt: skip
                self._write_items(pool, put_requests(job.tenant_id, scored, uploaded_at=uploaded_at,
                                                     job_id=job.job_id, history=history))  # fmt: skip
                if shadow is not None:  # after the batch's leads are stored: a pair never exists without its lead
                    self._shadow_batch(pool, job, scorer, shadow, scored, batch, start + 1)
                cp.rows_done = position
                cp.scored += scored.scored
                cp.invalid += batch.num_rows - scored.scored
                telemetry.bulk_rows(batch.num_rows, batch.num_rows - scored.scored)
                telemetry.leads_scored("bulk", scored.scores.grade.tolist())
                cp.error_lines += len(error_lines)
                processed += 1
                if part_uploaded and time.monotonic() - last_save >= self.settings.checkpoint_every_s:
                    self._save(job, owner, output, errors, clock, release=False)
                    last_save = time.monotonic()
            unreadable = [u.as_dict() for u in reader.unreadable]
            errors.writelines(json.dumps(line) + "\n" for line in unreadable)
            job.unreadable = len(unreadable)
            job.rows = cp.rows_done + job.unreadable
            cp.error_lines += len(unreadable)
            cp.stage = "finishing"
            self._save(job, owner, output, errors, clock, release=False)

    # ---------------------------------------------------------------- shadow scoring
    def _shadow_model(self, job: BulkJob, production: Scorer) -> Scorer | None:
        if self.shadow is None:
            return None
        try:
            shadow = self.shadow(job.tenant_id)
        except Exception as exc:  # ModelResolver.shadow already swallows its own; a stand-in might not
            self._shadow_failed(job, exc)
            return None
        return None if shadow is None or shadow.model_version == production.model_version else shadow

    def _shadow_batch(
        self,
        pool: ThreadPoolExecutor,
        job: BulkJob,
        scorer: Scorer,
        shadow: Scorer,
        scored: ScoredBatch,
        batch: pa.Table,
        first: int,
    ) -> None:
        """The shadow's scores of the batch's rows that both models accept, stored beside production's."""
        try:
            production, validated = scored.scores, scored.validated
            ids = scored.columns["id"]
            theirs: BatchScores
            if shadow.spec.schema_ == scorer.spec.schema_ and set(shadow.spec.inputs) <= set(validated.typed):
                theirs = shadow.score_batch(validated)  # the same columns serve: no second validation
            else:
                other = score_table(shadow, batch, first)
                both = validated.valid & other.validated.valid
                mine, rows = np.flatnonzero(both[validated.valid]), np.flatnonzero(both[other.validated.valid])
                production, theirs = _rows(production, mine), _rows(other.scores, rows)
                ids = ids.take(pa.array(mine))
            if len(ids):
                self._write_items(pool, shadow_requests(job.tenant_id, ids, theirs, production))
            job.checkpoint.shadowed += len(ids)
        except Exception as exc:  # whatever the shadow does, the production scores already stand
            self._shadow_failed(job, exc)

    def _shadow_failed(self, job: BulkJob, exc: Exception) -> None:
        self.shadow_failures += 1
        job.checkpoint.shadow_failed += 1
        logger.warning(
            "shadow scoring failed; the bulk job is unaffected",
            extra={"job_id": job.job_id, "tenant_id": job.tenant_id, "shadow_failed": self.shadow_failures,
                   "error": str(exc)},
        )  # fmt: skip

    def _write_items(self, pool: ThreadPoolExecutor, items: list[str]) -> None:
        if not items:
            return
        slices = write_slices(items, self.settings.write_threads)  # a lead's items never split between calls
        list(pool.map(self.leads.write_requests, slices))  # re-raises the first failure

    def _save(self, job: BulkJob, owner: str, output: _Output, errors: TextIO, clock: _Clock, *, release: bool) -> None:
        """Checkpoint: the output tail (or Parquet segment) and errors so far as objects named by a new sequence
        number, then the job record naming them. Until the record is saved the previous checkpoint stands."""
        cp = job.checkpoint
        cp.seq += 1
        prefix = work_prefix(job.tenant_id, job.job_id)
        stale = output.save(cp, prefix)
        errors.flush()
        if cp.errors_key:
            stale.append(cp.errors_key)
        cp.errors_key = f"{prefix}errors-{cp.seq:06d}.jsonl"
        self.objects.upload_file(job.bucket, cp.errors_key, Path(errors.name))
        cp.processing_s += clock.lap()
        self.jobs.save(job.tenant_id, job.job_id, owner, job.model_dump(mode="json"), release=release)
        self.objects.delete(job.bucket, stale)

    # ---------------------------------------------------------------- the end
    def _finish(self, job: BulkJob, owner: str, workdir: Path, errors_path: Path, clock: _Clock) -> str:
        cp = job.checkpoint
        if job.format == "parquet":
            paths = []
            for index, key in enumerate(cp.segments):
                path = workdir / f"part-{index}.parquet"
                self.objects.download(job.bucket, key, path)
                paths.append(path)
            merged = workdir / "results.parquet"
            merge_segments(paths, merged)
            self.objects.upload_file(job.bucket, job.results_key, merged, CONTENT_TYPES["parquet"])
        else:
            tail = self.objects.get_bytes(job.bucket, cp.tail_key) if cp.tail_key else b""
            upload = MultipartOutput(
                self.objects,
                job.bucket,
                job.results_key,
                part_bytes=self.settings.part_bytes,
                content_type=CONTENT_TYPES.get(job.format or ""),
                upload_id=cp.upload_id,
                parts=cp.parts,
                tail=tail,
            )
            try:
                upload.finish()
            except UploadGone:
                # An earlier attempt completed the upload and stopped before recording it.
                if self.objects.head(job.bucket, job.results_key) is None:
                    raise
        self.objects.upload_file(job.bucket, job.errors_key, errors_path, "application/x-ndjson")
        job.status = "completed"
        self._close(job, owner, clock)
        logger.info(
            "bulk job completed",
            extra={"job_id": job.job_id, "rows": job.rows, "scored": cp.scored, "seconds": cp.processing_s},
        )
        return "completed"

    def _fail(self, job: BulkJob, owner: str, clock: _Clock, message: str) -> str:
        line = {"row": None, "field": None, "message": message}
        self.objects.put_bytes(job.bucket, job.errors_key, (json.dumps(line) + "\n").encode(), "application/x-ndjson")
        job.status, job.error = "failed", message
        if job.checkpoint.upload_id:
            self.objects.abort_multipart(job.bucket, job.results_key, job.checkpoint.upload_id)
        self._close(job, owner, clock)
        logger.warning("bulk job failed", extra={"job_id": job.job_id, "key": job.key, "error": message})
        return "failed"

    def _close(self, job: BulkJob, owner: str, clock: _Clock) -> None:
        """Publish `bulk.completed` (a stable event id: a retried close publishes the same event), then record the
        outcome and drop the checkpoint objects."""
        cp = job.checkpoint
        cp.processing_s += clock.lap()
        job.completed_at = time.time()
        self.events.publish(self.completed_event(job))
        self.jobs.save(
            job.tenant_id,
            job.job_id,
            owner,
            job.model_dump(mode="json"),
            status=job.status,
            release=True,
            expires_at=self._expires_at(),
        )
        leftovers = [key for key in (cp.tail_key, cp.errors_key, *cp.segments) if key]
        self.objects.delete(job.bucket, leftovers)

    @staticmethod
    def completed_event(job: BulkJob) -> DomainEvent:
        cp = job.checkpoint
        completed = job.status == "completed"
        return DomainEvent(
            id=f"evt_{job.job_id}",
            type="bulk.completed",
            tenant_id=job.tenant_id,
            data={
                "job_id": job.job_id,
                "bucket": job.bucket,
                "key": job.key,
                "version_id": job.version_id,
                "results_key": job.results_key if completed else None,
                "errors_key": job.errors_key,
                "rows": job.rows,
                "scored": cp.scored,
                "invalid": job.rows - cp.scored,
                "unreadable": job.unreadable,
                "status": job.status,
                "error": job.error,
                "duration_s": round((job.completed_at or time.time()) - job.created_at, 3),
                "processing_s": round(cp.processing_s, 3),
                "invocations": cp.invocations,
                "model_version": job.model_version,
            },
        )
