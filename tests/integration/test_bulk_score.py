"""The bulk_score function against the local cloud's moto server: uploads go to S3 as a user would put them, the
notifications S3 puts on BulkQueue are received with boto3 and handed to the handler in-process (as Lambda's
event source mapping would), and `bulk.completed` is observed on an SQS queue subscribed to the events topic."""

from __future__ import annotations

import importlib.util
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.csv as pa_csv
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from aiqleads.bulk.requests import CONTINUE_TYPE, parse_message
from aiqleads.composition import default_scorer
from aiqleads.files.score_file import errors_path_for, score_file
from aiqleads.files.tabular import unsupported_type
from aiqleads.recommendations.card import LeadCard
from aiqleads.scoring.batch import SCORE_COLUMNS
from aiqleads.scoring.scorer import Scorer
from aiqleads.storage.aws import reset_clients
from aiqleads.storage.leads import LeadBatchWriter, LeadRepository, lead_key
from aiqleads.storage.recommendations import CandidateRepository
from aiqleads.storage.tenants import TenantRepository
from aiqleads.tenants.service import Tenant
from aiqleads_offline.generate import generate_file
from infra.local_cloud import LocalCloud
from infra.local_cloud.functions import discover_functions
from infra.local_cloud.streams import StreamPoller
from infra.template import load_template

from .conftest import ROOT, TEMPLATE

pytestmark = pytest.mark.integration

ROWS = 2_000


MODEL_DIR = ROOT / "model_artifacts" / "lead_scorer" / "2.0.0"
HANDLER_FILE = ROOT / "functions" / "bulk_score" / "handler.py"


def _load_handler(
    path: Path = HANDLER_FILE, name: str = "bulk_score_handler"
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler  # type: ignore[no-any-return]


@dataclass
class FakeContext:
    """What Lambda passes: the remaining time is what the tests turn to force a checkpoint."""

    remaining_ms: int = 900_000
    function_name: str = "aiqleads-dev-bulk-score"
    memory_limit_in_mb: int = 2048
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:aiqleads-dev-bulk-score"
    aws_request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Bulk:
    cloud: LocalCloud
    s3: Any
    sqs: Any
    dynamodb: Any
    bucket: str
    queue_url: str
    queue_arn: str
    observer_url: str
    alerts_url: str
    leads_table: str
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]

    def upload(self, path: Path, key: str, metadata: dict[str, str] | None = None) -> None:
        self.s3.upload_file(str(path), self.bucket, key, ExtraArgs={"Metadata": metadata} if metadata else None)

    def receive(self, matches: Callable[[str], bool], timeout: float = 10.0) -> str:
        """The body of the first bulk-queue message that `matches` (every received message is deleted)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            found = None
            for message in response.get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                if found is None and matches(message["Body"]):
                    found = message["Body"]
            if found is not None:
                return found
        raise AssertionError("no matching message on the bulk queue")

    def upload_event(self, key: str) -> str:
        return self.receive(lambda body: any(getattr(r, "key", None) == key for r in parse_message(body)))

    def invoke(self, body: str, context: FakeContext | None = None) -> dict[str, Any]:
        record = {
            "messageId": uuid.uuid4().hex,
            "receiptHandle": uuid.uuid4().hex,
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": "us-east-1",
        }
        return self.handler({"Records": [record]}, context or FakeContext())

    def run(self, key: str, context: FakeContext | None = None) -> int:
        """Deliver the upload's notification, then every continuation, until the job stops asking; returns the
        number of invocations."""
        body = self.upload_event(key)
        invocations = 0
        while True:
            result = self.invoke(body, context)
            invocations += 1
            assert result == {"batchItemFailures": []}
            try:
                body = self.receive(lambda b: json.loads(b).get("type") == CONTINUE_TYPE, timeout=1.5)
            except AssertionError:
                return invocations

    def events(self, timeout: float = 5.0, expect: int = 1) -> list[dict[str, Any]]:
        """bulk.completed events seen on the observer queue within `timeout` (stops early at `expect`)."""
        import time

        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(found) < expect:
            response = self.sqs.receive_message(QueueUrl=self.observer_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in response.get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.observer_url, ReceiptHandle=message["ReceiptHandle"])
                event = json.loads(json.loads(message["Body"])["Message"])
                if event["type"] == "bulk.completed":
                    found.append(event)
        return found

    def alerts(self, expect: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Alerts seen on the alerts topic's observer queue within `timeout` (stops early at `expect`)."""
        import time

        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(found) < expect:
            response = self.sqs.receive_message(QueueUrl=self.alerts_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in response.get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.alerts_url, ReceiptHandle=message["ReceiptHandle"])
                found.append(json.loads(json.loads(message["Body"])["Message"]))
        return found

    def read(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())


@pytest.fixture(scope="module")
def bulk() -> Iterator[Bulk]:
    # moto's 5 MiB minimum part size is lowered so that the continuation tests can use parts of 64 KiB.
    moto_environment = {"S3_UPLOAD_PART_MIN_SIZE": "1"}
    with (
        LocalCloud(TEMPLATE, port=0, run_functions=False, demo=False, moto_environment=moto_environment) as cloud,
        pytest.MonkeyPatch.context() as patch,
    ):
        refs = cloud.resources.ref
        environment = {
            # the publisher function's, which runs here as Lambda runs it: on OutboxTable's stream
            "DOMAIN_EVENTS_TOPIC_ARN": refs("DomainEventsTopic"),
            "PUBLISHER_DEAD_LETTER_QUEUE_URL": refs("PublisherDeadLetterQueue"),
            **cloud.server.environment(),
            "LEADS_TABLE": refs("LeadsTable"),
            "MARKET_SIGNALS_TABLE": refs("MarketSignalsTable"),
            "AGGREGATES_TABLE": refs("AggregatesTable"),
            "JOBS_TABLE": refs("JobsTable"),
            "UPLOADS_BUCKET": refs("UploadsBucket"),
            "OUTBOX_TABLE": refs("OutboxTable"),
            "BULK_QUEUE_URL": refs("BulkQueue"),
            "TENANTS_TABLE": refs("TenantsTable"),  # the uploads' tenants must exist here
            "ALERTS_TOPIC_ARN": refs("AlertsTopic"),  # refused uploads are alerted on
            # An empty registry: the shipped model (AIQLEADS_MODEL_DIR) scores every tenant's files.
            "MODELS_TABLE": refs("ModelsTable"),
            "MODELS_BUCKET": refs("ModelsBucket"),
            "AIQLEADS_MODEL_DIR": str(MODEL_DIR),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "AIQLeads",
        }
        for name, value in environment.items():
            patch.setenv(name, str(value))
        reset_clients()
        sqs = cloud.client("sqs")
        observer_url = sqs.create_queue(QueueName=f"bulk-observer-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        observer_arn = sqs.get_queue_attributes(QueueUrl=observer_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        cloud.client("sns").subscribe(TopicArn=refs("DomainEventsTopic"), Protocol="sqs", Endpoint=observer_arn)
        alerts_url = sqs.create_queue(QueueName=f"bulk-alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        cloud.client("sns").subscribe(TopicArn=refs("AlertsTopic"), Protocol="sqs", Endpoint=alerts_arn)
        queue_url = refs("BulkQueue")
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        publisher = _publisher(cloud)
        yield Bulk(
            cloud=cloud,
            s3=cloud.client("s3"),
            sqs=sqs,
            dynamodb=cloud.client("dynamodb"),
            bucket=refs("UploadsBucket"),
            queue_url=queue_url,
            queue_arn=queue_arn,
            observer_url=observer_url,
            alerts_url=alerts_url,
            leads_table=refs("LeadsTable"),
            handler=_load_handler(),
        )
        publisher.stop()
    reset_clients()


def _publisher(cloud: LocalCloud) -> StreamPoller:
    """The publisher function on OutboxTable's stream, with its event source as template.yaml declares it: the
    bulk job's events reach the topic (and the observer queue) the way they do in AWS."""
    (source,) = discover_functions(load_template(TEMPLATE), ROOT)["PublisherFunction"].dynamodb_events
    handler = _load_handler(ROOT / "functions" / "publisher" / "handler.py", "publisher_handler")
    return StreamPoller(
        "PublisherFunction",
        str(cloud.resources.resolve(source.stream)),
        lambda _, event: handler(event, FakeContext(function_name="aiqleads-dev-publisher")),
        cloud.client("dynamodbstreams"),
        batch_size=source.batch_size,
        filters=source.filters,
        report_batch_item_failures=source.report_batch_item_failures,
    ).start()


@pytest.fixture(scope="module")
def leads_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bulk") / "leads-nov.csv"
    generate_file(ROWS, 7, path, invalid_rate=0.01)
    return path


@pytest.fixture(scope="module")
def expected(leads_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """What `aiqleads score` writes for the same file with the same model: (results, errors)."""
    out = tmp_path_factory.mktemp("cli") / "leads-nov.scored.csv"
    score_file(leads_file, out, default_scorer(), progress=False)
    return out.read_bytes(), errors_path_for(out).read_bytes()


def _tenant() -> str:
    """A new tenant, in TenantsTable (an upload for a tenant that does not exist is refused)."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    assert TenantRepository(os.environ["TENANTS_TABLE"]).create(Tenant(tenant_id=tenant))  # the fixture sets it
    return tenant


class _CountingScorer:
    """Counts the rows each Scorer.score_batch call scores (to prove no row is scored twice)."""

    def __init__(self, patch: pytest.MonkeyPatch):
        self.rows = 0
        original = Scorer.score_batch

        def counting(scorer: Scorer, batch: Any) -> Any:
            self.rows += batch.rows
            return original(scorer, batch)

        patch.setattr(Scorer, "score_batch", counting)


def _tenant_lead_count(bulk: Bulk, tenant: str) -> int:
    paginator = bulk.dynamodb.get_paginator("query")
    pages = paginator.paginate(
        TableName=bulk.leads_table,
        IndexName="TenantIndex",
        KeyConditionExpression="gsi2pk = :t",
        ExpressionAttributeValues={":t": {"S": tenant}},
        Select="COUNT",
    )
    return sum(page["Count"] for page in pages)


# ------------------------------------------------------------------------------------------------ the happy path


def test_upload_gives_results_errors_items_and_one_event(
    bulk: Bulk, leads_file: Path, expected: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = _tenant()
    key = f"uploads/{tenant}/leads-nov.csv"
    bulk.upload(leads_file, key)
    counter = _CountingScorer(monkeypatch)

    assert bulk.run(key) == 1

    results, errors = expected
    assert bulk.read(f"results/{tenant}/leads-nov.scored.csv") == results
    assert bulk.read(f"results/{tenant}/leads-nov.errors.jsonl") == errors
    table = pa_csv.read_csv(leads_file, convert_options=pa_csv.ConvertOptions(strings_can_be_null=False))
    error_lines = [json.loads(line) for line in errors.decode().splitlines()]
    bad_rows = {line["row"] for line in error_lines}
    assert 0 < len(bad_rows) < ROWS * 0.03
    assert {"row", "field", "message"} <= set(error_lines[0])
    input_ids = table.column("id").to_pylist()
    valid_ids = [lead_id for row, lead_id in enumerate(input_ids, start=1) if row not in bad_rows]
    scored = pa_csv.read_csv(
        bulk.s3.get_object(Bucket=bulk.bucket, Key=f"results/{tenant}/leads-nov.scored.csv")["Body"]
    )
    assert scored.column("id").to_pylist() == [str(i) for i in valid_ids]  # complete, in input order
    assert scored.column_names == [*table.column_names, *SCORE_COLUMNS]
    assert counter.rows == len(valid_ids)

    # DynamoDB: every valid row is a lead of this tenant, with its score (what GET /v1/leads/{id} reads).
    assert _tenant_lead_count(bulk, tenant) == len(set(valid_ids))
    repository = LeadRepository(bulk.leads_table)
    record = repository.get(tenant, str(valid_ids[-1]))
    assert record is not None
    assert record.score is not None
    assert record.score.score == scored.column("score")[-1].as_py()
    assert record.score.reasons
    assert repository.get("someone-else", str(valid_ids[-1])) is None
    # Its score item carries the lead's card, so recommendations rank it straight from the ScoreIndex.
    (candidate,) = [
        c
        for c in CandidateRepository(bulk.leads_table).top(tenant, record.lead.property.market, ROWS)
        if c.lead_id == record.lead.id
    ]
    assert candidate.card == LeadCard.of(record.lead)
    stored = bulk.dynamodb.get_item(
        TableName=bulk.leads_table, Key={"pk": {"S": lead_key(tenant, record.lead.id)}, "sk": {"S": "score"}}
    )["Item"]
    assert json.loads(stored["card"]["S"]) == LeadCard.of(record.lead).as_dict()

    (event,) = bulk.events()
    assert event["tenant_id"] == tenant
    data = event["data"]
    assert data["status"] == "completed"
    assert data["bucket"] == bulk.bucket
    assert data["key"] == key
    assert data["results_key"] == f"results/{tenant}/leads-nov.scored.csv"
    assert data["errors_key"] == f"results/{tenant}/leads-nov.errors.jsonl"
    assert (data["rows"], data["scored"], data["invalid"]) == (ROWS, len(valid_ids), len(bad_rows))
    assert data["model_version"] == default_scorer().model_version
    assert data["duration_s"] >= 0

    # The same notification again (SQS redelivers; S3 may send twice): nothing is redone or republished.
    before = bulk.s3.head_object(Bucket=bulk.bucket, Key=f"results/{tenant}/leads-nov.scored.csv")
    redelivered = json.dumps(
        {
            "Records": [
                {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bulk.bucket}, "object": {"key": key}}}
            ]
        }
    )
    assert bulk.invoke(redelivered) == {"batchItemFailures": []}
    assert counter.rows == len(valid_ids)
    after = bulk.s3.head_object(Bucket=bulk.bucket, Key=f"results/{tenant}/leads-nov.scored.csv")
    assert after["LastModified"] == before["LastModified"]
    assert bulk.events(timeout=2.0) == []
    leftovers = bulk.s3.list_objects_v2(Bucket=bulk.bucket, Prefix=f"bulk-work/{tenant}/").get("KeyCount", 0)
    assert leftovers == 0


GOLDEN = ROOT / "tests" / "fixtures" / "batch"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "ndjson"])
def test_uploads_give_the_golden_results(bulk: Bulk, fmt: str) -> None:
    """The bytes the bulk function wrote for these inputs before batch scoring had one path (the CLI's too)."""
    tenant = _tenant()
    golden = "jsonl" if fmt == "ndjson" else fmt
    bulk.upload(GOLDEN / f"leads.{golden}", f"uploads/{tenant}/leads.{fmt}")
    assert bulk.run(f"uploads/{tenant}/leads.{fmt}") == 1
    assert bulk.read(f"results/{tenant}/leads.scored.{fmt}") == (GOLDEN / f"leads.scored.{golden}").read_bytes()
    assert bulk.read(f"results/{tenant}/leads.errors.jsonl") == (GOLDEN / "leads.errors.jsonl").read_bytes()
    (event,) = bulk.events()
    assert (event["data"]["rows"], event["data"]["status"]) == (300, "completed")


def test_unreadable_lines_are_reported_with_their_line_numbers_as_the_cli_does(bulk: Bulk, tmp_path: Path) -> None:
    tenant = _tenant()
    source = tmp_path / "broken.csv"
    lines = (GOLDEN / "leads.csv").read_bytes().split(b"\n")
    lines[41:41] = [b"only,three,cells"]
    source.write_bytes(b"\n".join(lines))
    out = tmp_path / "broken.scored.csv"
    score_file(source, out, default_scorer(), progress=False)
    bulk.upload(source, f"uploads/{tenant}/broken.csv")
    assert bulk.run(f"uploads/{tenant}/broken.csv") == 1
    errors = bulk.read(f"results/{tenant}/broken.errors.jsonl")
    assert errors == errors_path_for(out).read_bytes()
    assert json.loads(errors.splitlines()[-1]) == {"line": 42, "field": None, "message": "expected 31 columns, found 3"}
    assert bulk.read(f"results/{tenant}/broken.scored.csv") == out.read_bytes()
    bulk.events()


# ------------------------------------------------------------------------------------------------ continuation


@pytest.fixture
def small_parts(process_env: Callable[[str, str], None]) -> None:
    """Parts of 64 KiB (moto's 5 MiB minimum is lowered for this module's moto) and batches of 400 rows: a
    2,000-row file spans several parts and several invocations."""
    process_env("BULK_PART_BYTES", str(64 << 10))
    process_env("BULK_BATCH_ROWS", "400")


@pytest.fixture(scope="module")
def formats(leads_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    files = {"csv": leads_file}
    for fmt in ("jsonl", "parquet"):
        files[fmt] = folder / f"leads-nov.{fmt}"
        generate_file(ROWS, 7, files[fmt], invalid_rate=0.01)
    return files


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.usefixtures("small_parts")
def test_a_continued_job_gives_the_one_shot_bytes_and_scores_no_row_twice(
    bulk: Bulk,
    formats: dict[str, Path],
    fmt: str,
    monkeypatch: pytest.MonkeyPatch,
    process_env: Callable[[str, str], None],
) -> None:
    tenant = _tenant()
    source = formats[fmt]
    bulk.upload(source, f"uploads/{tenant}/one-shot.{fmt}")
    assert bulk.run(f"uploads/{tenant}/one-shot.{fmt}") == 1
    (one_shot_event,) = bulk.events()

    counter = _CountingScorer(monkeypatch)
    process_env("BULK_TIME_MARGIN_SECONDS", "60")
    bulk.upload(source, f"uploads/{tenant}/continued.{fmt}")
    invocations = bulk.run(f"uploads/{tenant}/continued.{fmt}", FakeContext(remaining_ms=30_000))

    assert invocations >= ROWS // 400  # one batch per invocation: less time left than the margin after each
    one_shot = bulk.read(f"results/{tenant}/one-shot.scored.{fmt}")
    continued = bulk.read(f"results/{tenant}/continued.scored.{fmt}")
    assert len(one_shot) > 3 * (64 << 10)  # several parts
    assert continued == one_shot
    assert bulk.read(f"results/{tenant}/continued.errors.jsonl") == bulk.read(f"results/{tenant}/one-shot.errors.jsonl")
    (event,) = bulk.events()
    assert counter.rows == event["data"]["scored"] == one_shot_event["data"]["scored"]
    assert event["data"]["invocations"] == invocations
    assert bulk.s3.list_objects_v2(Bucket=bulk.bucket, Prefix=f"bulk-work/{tenant}/").get("KeyCount", 0) == 0


@pytest.mark.usefixtures("small_parts")
def test_a_crash_mid_chunk_is_redone_from_the_last_checkpoint(
    bulk: Bulk,
    leads_file: Path,
    expected: tuple[bytes, bytes],
    monkeypatch: pytest.MonkeyPatch,
    process_env: Callable[[str, str], None],
) -> None:
    tenant = _tenant()
    key = f"uploads/{tenant}/leads-nov.csv"
    process_env("BULK_CHECKPOINT_SECONDS", "0")  # a checkpoint at every part boundary
    calls = {"n": 0}
    original = LeadBatchWriter.write_requests

    def crash_on_the_ninth_write(repository: LeadRepository, items: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 9:  # the third batch: its output bytes are written (maybe a part uploaded) by now
            raise ConnectionError("the function died")
        return original(repository, items)

    monkeypatch.setattr(LeadBatchWriter, "write_requests", crash_on_the_ninth_write)
    bulk.upload(leads_file, key)
    body = bulk.upload_event(key)
    with pytest.raises(BatchProcessingError):  # the whole (one-message) batch failed: SQS redelivers it
        bulk.invoke(body)

    monkeypatch.setattr(LeadBatchWriter, "write_requests", original)
    assert bulk.invoke(body) == {"batchItemFailures": []}  # the redelivery

    results, errors = expected
    assert bulk.read(f"results/{tenant}/leads-nov.scored.csv") == results
    assert bulk.read(f"results/{tenant}/leads-nov.errors.jsonl") == errors
    (event,) = bulk.events()
    assert event["data"]["invocations"] == 2
    assert _tenant_lead_count(bulk, tenant) == event["data"]["scored"]


# ------------------------------------------------------------------------------------------------ failures


def test_an_unsupported_file_is_reported_not_dropped(bulk: Bulk, tmp_path: Path) -> None:
    tenant = _tenant()
    path = tmp_path / "leads.xlsx"
    path.write_bytes(b"PK\x03\x04 not a lead table")
    key = "uploads/leads-dec.xlsx"
    bulk.upload(path, key, metadata={"tenant-id": tenant})  # no folder: the tenant comes from the metadata

    assert bulk.run(key) == 1

    (event,) = bulk.events()
    assert event["tenant_id"] == tenant
    assert event["data"]["status"] == "failed"
    assert event["data"]["results_key"] is None
    assert "unsupported file type '.xlsx'" in event["data"]["error"]
    assert event["data"]["error"] == unsupported_type(key)  # the words aiqleads score uses
    (line,) = [json.loads(x) for x in bulk.read("results/leads-dec.errors.jsonl").decode().splitlines()]
    assert "unsupported file type '.xlsx'" in line["message"]
    assert bulk.s3.list_objects_v2(Bucket=bulk.bucket, Prefix="results/leads-dec.scored").get("KeyCount", 0) == 0
    jobs = bulk.dynamodb.scan(TableName=bulk.cloud.resources.ref("JobsTable"))["Items"]
    (job,) = [item for item in jobs if item["tenant_id"]["S"] == tenant]
    assert job["status"]["S"] == "failed"
    assert int(job["expires_at"]["N"]) > 0


def test_the_s3_test_event_is_acknowledged(bulk: Bulk) -> None:
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bulk.bucket})
    assert bulk.invoke(body) == {"batchItemFailures": []}
    with pytest.raises(BatchProcessingError, match="not JSON"):  # retried, then dead-lettered
        bulk.invoke("not json")


# ------------------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("key", "metadata", "why"),
    [
        ("uploads/no-tenant-{run}.csv", None, "names no tenant"),
        ("uploads/nobody-{run}/leads.csv", None, "no tenant 'nobody-{run}' exists"),
        ("uploads/leads-{run}.csv", {"tenant-id": "ghost-{run}"}, "no tenant 'ghost-{run}' exists"),
        ("market-signals/signals-{run}.csv", None, "names no tenant"),
    ],
)
def test_an_upload_whose_tenant_cannot_be_established_is_refused(
    bulk: Bulk, leads_file: Path, key: str, metadata: dict[str, str] | None, why: str
) -> None:
    """Never scored as a default tenant: nothing stored, an errors file and an alert say why and what to do, and
    the notification is consumed (a client's mistake: no retry, no dead letter)."""
    run = uuid.uuid4().hex[:8]
    key, why = key.format(run=run), why.format(run=run)
    metadata = {name: value.format(run=run) for name, value in (metadata or {}).items()} or None
    jobs_before = bulk.dynamodb.scan(TableName=bulk.cloud.resources.ref("JobsTable"), Select="COUNT")["Count"]
    bulk.upload(leads_file, key, metadata)

    assert bulk.run(key) == 1  # {"batchItemFailures": []}: consumed, not retried

    stem = (
        key.rsplit(".", 1)[0].replace("uploads/", "results/", 1).replace("market-signals/", "results/market-signals/")
    )
    (line,) = [json.loads(x) for x in bulk.read(f"{stem}.errors.jsonl").decode().splitlines()]
    assert why in line["message"]
    assert "tenant-id=<your tenant id>" in line["message"]
    assert "/<your tenant id>/" in line["message"]
    (alert,) = [a for a in bulk.alerts(expect=1) if a["details"]["key"] == key]
    assert alert["type"] == "bulk.upload_refused"
    assert why in alert["details"]["reason"]
    listed = bulk.s3.list_objects_v2(Bucket=bulk.bucket, Prefix="results/").get("Contents", [])
    assert [item["Key"] for item in listed if item["Key"].startswith(stem)] == [f"{stem}.errors.jsonl"]
    jobs_after = bulk.dynamodb.scan(TableName=bulk.cloud.resources.ref("JobsTable"), Select="COUNT")["Count"]
    assert jobs_after == jobs_before  # no job, so no lead: the file was never read
    for tenant in ("default", f"nobody-{run}", f"ghost-{run}"):
        assert _tenant_lead_count(bulk, tenant) == 0
    assert bulk.events(timeout=2.0) == []  # no bulk.completed for anybody
