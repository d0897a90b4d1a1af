"""A market signals file -> the tenant's snapshots, an errors file, a report, `bulk.completed` (the bulk_score function).

An object under `market-signals/` in the uploads bucket (`market-signals/<tenant>/<name>.<csv|jsonl|ndjson|parquet>`,
or the object's `tenant-id` metadata) reaches BulkQueue as lead uploads do and becomes one job in JobsTable
(kind `market_signals`; its id hashes bucket, key and object version, so a duplicated notification finds the same
job, leased to one invocation at a time). The job reads the file in batches (`files.tabular`, the format from the
extension), validates every row with the `MarketSnapshot` model (`MarketSignalService.load_rows`: a bad row is
reported with its field errors, never stopping the job; a later row for the same market and period replaces an
earlier one) and upserts the valid snapshots. It then writes, beside the upload's name under `results/`:

    results/market-signals/<tenant>/<name>.errors.jsonl   one line per problem: row, field, message, value
    results/market-signals/<tenant>/<name>.report.json    the counts, the latest period stored per market

and publishes `bulk.completed` with `"kind": "market_signals"` and the same counts; GET /v1/jobs/{id} follows it.
A file without the required columns, of an unknown extension or unreadable fails the job with the reason.

Market files are small (a row per market and month), so a job runs in one invocation, without checkpoints; an
invocation that fails gives its lease back and the message's retry does the whole file again (the writes are
idempotent upserts).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import pyarrow as pa
from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from aiqleads.bulk.requests import MARKET_SIGNALS_PREFIX, RESULTS_PREFIX, UploadRequest, job_id_for
from aiqleads.bulk.tenancy import Refusal, UploadTenancy
from aiqleads.files.tabular import TableReader, format_of, unsupported_type
from aiqleads.iam import NOTIFYING_BUCKET, Access, access
from aiqleads.jobs.status import JobView, ResultLocation
from aiqleads.jobs.store import ReleasableJobStore
from aiqleads.markets.service import COLUMNS, REQUIRED_COLUMNS, LoadedRows, MarketSignalService
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.ports import EventSink

if TYPE_CHECKING:
    from aiqleads.storage.jobs import StoredJob
    from aiqleads.storage.objects import ObjectInfo

logger = Logger(child=True)

JOB_KIND: Literal["market_signals"] = "market_signals"
JOB_ID_PREFIX = "markets"
BATCH_ROWS = 5_000
JSON_LINES = "application/x-ndjson"


class ObjectStorage(Protocol):
    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo | None: ...
    def download(self, bucket: str, key: str, path: Path, version_id: str | None = None) -> None: ...
    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str | None = None) -> None: ...


class MarketImportJob(BaseModel):
    kind: Literal["market_signals"] = JOB_KIND
    tenant_id: str
    job_id: str
    bucket: str
    key: str
    version_id: str | None = None
    format: str | None = None
    report_key: str
    errors_key: str
    status: Literal["running", "completed", "failed"] = "running"
    created_at: float
    completed_at: float | None = None
    rows: int = 0
    stored: int = 0
    invalid: int = 0
    superseded: int = 0
    unreadable: int = 0
    markets: dict[str, str] = Field(default_factory=dict, description="market -> latest period stored")
    ignored_columns: list[str] = Field(default_factory=list)
    error: str | None = None
    invocations: int = 0

    def report(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"invocations"})


def result_keys(key: str) -> tuple[str, str]:
    """(report key, errors key): market-signals/a/nov.csv -> results/market-signals/a/nov.report.json, ...errors.jsonl"""
    path = PurePosixPath(key)
    stem = f"{RESULTS_PREFIX}{path.parent}/{path.stem}" if str(path.parent) != "." else f"{RESULTS_PREFIX}{path.stem}"
    return f"{stem}.report.json", f"{stem}.errors.jsonl"


def job_view(stored: StoredJob) -> JobView:
    """A market signals import as GET /v1/jobs/{id} reports it (the report and the errors once it is done)."""
    job = MarketImportJob.model_validate(stored.record)
    done = stored.status in ("completed", "failed")
    return JobView.of(
        stored,
        JOB_KIND,
        job.rows,
        job.rows,
        result=ResultLocation(bucket=job.bucket, key=job.report_key) if stored.status == "completed" else None,
        errors=ResultLocation(bucket=job.bucket, key=job.errors_key) if done else None,
        error=job.error,
        created_at=job.created_at,
        completed_at=job.completed_at,
    )


class _BadFile(Exception):
    """The file as a whole cannot be imported (the reason is the job's error)."""


class MarketSignalImporter:
    # In the bucket that notified it: the file (head, download by version; head tells an absent one by S3's 404,
    # which needs ListBucket), its report and errors file under results/market-signals/.
    IAM: ClassVar[tuple[Access, ...]] = (
        access("s3:GetObject", "s3:GetObjectVersion", on=NOTIFYING_BUCKET, path=f"{MARKET_SIGNALS_PREFIX}*"),
        access("s3:PutObject", on=NOTIFYING_BUCKET, path=f"{RESULTS_PREFIX}{MARKET_SIGNALS_PREFIX}*"),
        access("s3:ListBucket", on=NOTIFYING_BUCKET),
    )

    def __init__(
        self,
        *,
        objects: ObjectStorage,
        jobs: ReleasableJobStore,
        markets: MarketSignalService,
        events: EventSink,
        tenancy: UploadTenancy,  # whose upload it is, or its refusal
        work_dir: Path | None = None,
        job_ttl_days: int = 30,
    ):
        self.objects, self.jobs, self.markets, self.events = objects, jobs, markets, events
        self.tenancy = tenancy
        self.work_dir, self.job_ttl_days = work_dir, job_ttl_days

    def handle(self, request: UploadRequest, remaining_ms: Callable[[], int]) -> str:
        """Import the uploaded file the request names, once; returns what happened."""
        info = self.objects.head(request.bucket, request.key, request.version_id)
        if info is None:
            logger.warning("uploaded object is gone", extra={"bucket": request.bucket, "key": request.key})
            return "object gone"
        tenant = self.tenancy.establish(request.key, info.metadata)
        if isinstance(tenant, Refusal):
            return self.tenancy.refuse(request, result_keys(request.key)[1], tenant)
        job_id = job_id_for(request.bucket, request.key, info.version_id or info.etag, prefix=JOB_ID_PREFIX)
        if self.jobs.get(tenant, job_id) is None:
            report_key, errors_key = result_keys(request.key)
            job = MarketImportJob(
                tenant_id=tenant,
                job_id=job_id,
                bucket=request.bucket,
                key=request.key,
                version_id=info.version_id,
                format=format_of(request.key),
                report_key=report_key,
                errors_key=errors_key,
                created_at=time.time(),
            )
            self.jobs.create(tenant, job_id, job.model_dump(mode="json"), self._expires_at())
        owner = uuid.uuid4().hex
        stored = self.jobs.acquire(tenant, job_id, owner, remaining_ms() / 1000.0 + 60.0)
        if stored is None:
            logger.info("market signals job is finished or held by another invocation", extra={"job_id": job_id})
            return "finished or busy"
        job = MarketImportJob.model_validate(stored.record)
        job.invocations += 1
        try:
            return self._run(job, owner)
        except BaseException:
            with contextlib.suppress(Exception):
                self.jobs.release(tenant, job_id, owner)
            raise

    def _expires_at(self) -> int:
        return int(time.time()) + self.job_ttl_days * 86_400

    def _run(self, job: MarketImportJob, owner: str) -> str:
        workdir = Path(tempfile.mkdtemp(prefix=f"{job.job_id}-", dir=self.work_dir))
        try:
            if job.format is None:
                raise _BadFile(unsupported_type(job.key))
            local = workdir / f"input{PurePosixPath(job.key).suffix.lower()}"
            self.objects.download(job.bucket, job.key, local, job.version_id)
            reader = TableReader(local, batch_rows=BATCH_ROWS)
            try:
                loaded = self.markets.load_rows(job.tenant_id, self._rows(reader, job))
            except (pa.ArrowException, UnicodeDecodeError) as exc:
                raise _BadFile(f"cannot read {PurePosixPath(job.key).name}: {exc}") from None
            unreadable = [row.as_dict() for row in reader.unreadable]
            return self._complete(job, owner, loaded, unreadable)
        except _BadFile as bad:
            return self._fail(job, owner, str(bad))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    @staticmethod
    def _rows(reader: TableReader, job: MarketImportJob) -> Iterator[Mapping[str, Any]]:
        first = True
        for batch in reader.batches():
            if first:
                missing = [name for name in REQUIRED_COLUMNS if name not in batch.column_names]
                if missing:
                    raise _BadFile(f"missing required columns: {', '.join(missing)} (columns: {', '.join(COLUMNS)})")
                job.ignored_columns = [name for name in batch.column_names if name not in COLUMNS]
                first = False
            yield from batch.to_pylist()

    def _complete(self, job: MarketImportJob, owner: str, loaded: LoadedRows, unreadable: list[dict[str, Any]]) -> str:
        job.rows, job.stored, job.invalid = loaded.rows + len(unreadable), loaded.stored, loaded.invalid
        job.superseded, job.unreadable, job.markets = (
            loaded.superseded,
            len(unreadable),
            dict(sorted(loaded.latest.items())),
        )
        lines = [*loaded.errors, *unreadable]
        self._write_errors(job, lines)
        job.status = "completed"
        self.objects.put_bytes(
            job.bucket, job.report_key, json.dumps(self._closed(job).report(), indent=2).encode(), "application/json"
        )
        self._close(job, owner)
        logger.info("market signals imported", extra={"job_id": job.job_id, "rows": job.rows, "stored": job.stored})
        return "completed"

    def _fail(self, job: MarketImportJob, owner: str, message: str) -> str:
        job.status, job.error = "failed", message
        self._write_errors(job, [{"row": None, "field": None, "message": message}])
        self._closed(job)
        self._close(job, owner)
        logger.warning("market signals import failed", extra={"job_id": job.job_id, "key": job.key, "error": message})
        return "failed"

    def _write_errors(self, job: MarketImportJob, lines: list[dict[str, Any]]) -> None:
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self.objects.put_bytes(job.bucket, job.errors_key, body, JSON_LINES)

    @staticmethod
    def _closed(job: MarketImportJob) -> MarketImportJob:
        job.completed_at = job.completed_at or time.time()
        return job

    def _close(self, job: MarketImportJob, owner: str) -> None:
        """Publish `bulk.completed` (its id derives from the job's: a retried close publishes the same event),
        then record the outcome."""
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

    @staticmethod
    def completed_event(job: MarketImportJob) -> DomainEvent:
        return DomainEvent(
            id=f"evt_{job.job_id}",
            type="bulk.completed",
            tenant_id=job.tenant_id,
            data={
                "kind": JOB_KIND,
                "job_id": job.job_id,
                "bucket": job.bucket,
                "key": job.key,
                "version_id": job.version_id,
                "report_key": job.report_key if job.status == "completed" else None,
                "errors_key": job.errors_key,
                "rows": job.rows,
                "stored": job.stored,
                "invalid": job.invalid,
                "superseded": job.superseded,
                "unreadable": job.unreadable,
                "markets": sorted(job.markets),
                "status": job.status,
                "error": job.error,
            },
        )
