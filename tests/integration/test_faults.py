"""Faults injected between the local cloud's functions and AWS (infra/local_cloud/faults.py), and what a user
sees meanwhile and after: one cloud whose functions reach moto through the fault proxy, for the whole module."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from aiqleads.scoring.scorer import Scorer
from aiqleads.storage.leads import HISTORY_PREFIX
from aiqleads.storage.tenants import TenantRepository
from aiqleads.tenants.service import Tenant
from aiqleads_offline.generate import generate_file
from infra.local_cloud import LocalCloud
from infra.local_cloud.faults import (
    Call,
    FaultProxy,
    FaultRule,
    behind_proxy,
    compressed_backoff,
    observe,
    reset_mid_body,
    throttling,
    unavailable,
)
from tests.integration.conftest import TEMPLATE, receive_until
from tests.integration.test_backbone import EXTREME_SIGNALS, LEAD, api

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def faulty() -> Iterator[tuple[LocalCloud, FaultProxy]]:
    """The cloud and its proxy; botocore's backoff compressed, as the pollers' retry delay is."""
    # moto's 5 MiB minimum part size lowered: a bulk job's results go up in parts of 32 KiB (BULK_PART_BYTES).
    moto_environment = {"S3_UPLOAD_PART_MIN_SIZE": "1"}
    with (
        compressed_backoff(),
        behind_proxy(TEMPLATE, retry_delay=0.5, moto_environment=moto_environment) as (cloud, proxy),
    ):
        yield cloud, proxy


@pytest.fixture
def proxy(faulty: tuple[LocalCloud, FaultProxy]) -> Iterator[FaultProxy]:
    yield faulty[1]
    faulty[1].clear()


@pytest.fixture(scope="module")
def info(faulty: tuple[LocalCloud, FaultProxy]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(faulty[0].info()))
    return result


def test_the_functions_reach_aws_through_the_proxy(info: dict[str, Any], proxy: FaultProxy) -> None:
    rule = proxy.inject(FaultRule("dynamodb", times=1, fault=throttling()))  # retried by botocore: unseen
    status, _, body = api(info, "POST", "/v1/leads", {**LEAD, "id": "fault-through-proxy"})
    assert status == 201, body
    assert rule.injected == 1
    assert proxy.rules.forwarded > 0


def _table_names(cloud: LocalCloud) -> dict[str, str]:
    """Every DynamoDB table the template declares: logical id -> the physical name the functions use."""
    tables = cloud.resources.of_type("AWS::DynamoDB::Table")
    return {logical_id: str(item.physical_id) for logical_id, item in tables.items()}


def _operation(info: dict[str, Any], table: str, n: int) -> tuple[int, Any]:
    """A user operation that reads or writes `table` (an API call; its authorizer reads ApiKeysTable)."""
    admin = info["admin_api_key"]
    calls: dict[str, tuple[str, str, Any, str]] = {
        "LeadsTable": ("POST", "/v1/leads", {**LEAD, "id": f"throttled-{n}"}, "default"),
        "AggregatesTable": ("POST", "/v1/leads/score", {**LEAD, "id": "it-lead-1"}, "default"),
        "MarketSignalsTable": ("PUT", "/v1/markets/reno/snapshots/2099-11", EXTREME_SIGNALS, admin),
        "BuyersTable": ("GET", "/v1/recommendations?buyer_id=buyer-pro-texas", None, "default"),
        "ApiKeysTable": ("GET", "/v1/leads/it-none", None, info["api_keys"]["basic"]),  # a key not yet cached
        "JobsTable": ("GET", "/v1/jobs/job-none", None, "default"),
        "ModelsTable": ("GET", "/v1/models", None, admin),
        "MonitoringTable": ("GET", "/v1/monitoring/runs", None, admin),
        "OutboxTable": ("POST", "/v1/leads", {**LEAD, "id": f"throttled-outbox-{n}"}, "default"),  # in its transaction
    }
    method, path, body, key = calls[table]
    status, _, answer = api(info, method, path, body, key=key)
    return status, answer


@pytest.mark.parametrize(
    "table",
    [
        "LeadsTable",
        "AggregatesTable",
        "MarketSignalsTable",
        "BuyersTable",
        "ApiKeysTable",
        "TenantsTable",
        "IdempotencyTable",
        "JobsTable",
        "ModelsTable",
        "MonitoringTable",
        "OutboxTable",
    ],
)
def test_throttling_within_botocores_retries_is_unseen_on_every_table(
    table: str, faulty: tuple[LocalCloud, FaultProxy], info: dict[str, Any], proxy: FaultProxy
) -> None:
    name = _table_names(faulty[0])[table]
    rule = proxy.inject(FaultRule("dynamodb", resource=name, times=2, fault=throttling()))
    if table in _CONSUMED:
        _CONSUMED[table](faulty[0], info)
        assert _wait_for(lambda: rule.injected == 2), rule
    else:
        status, answer = _operation(info, table, 1)
        assert status < 500, answer
    assert rule.injected == 2  # the operation did touch the table, and botocore absorbed both refusals


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def _interactions(cloud: LocalCloud, info: dict[str, Any]) -> None:
    """POST /v1/events: the events function (IdempotencyTable, then AggregatesTable) takes them off its queue."""
    assert api(info, "POST", "/v1/leads", {**LEAD, "id": "throttled-interactions"})[0] == 201
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    event = {"lead_id": "throttled-interactions", "actor": "buyer-pro-texas", "action": "view", "timestamp": now}
    status, _, body = api(info, "POST", "/v1/events", {"events": [event]})
    assert status == 202, body


def _rescore_schedule(cloud: LocalCloud, info: dict[str, Any]) -> None:
    """The rescoring schedule: the bulk function lists the tenants (TenantsTable) and queues a job for each."""
    result = cloud.fire_schedule("BulkScoreFunction")
    assert result, result


_CONSUMED: dict[str, Callable[[LocalCloud, dict[str, Any]], None]] = {
    "IdempotencyTable": _interactions,
    "TenantsTable": _rescore_schedule,
}


def test_throttling_past_the_retries_is_a_503_with_retry_after_and_writes_nothing(
    faulty: tuple[LocalCloud, FaultProxy], info: dict[str, Any], proxy: FaultProxy
) -> None:
    leads = _table_names(faulty[0])["LeadsTable"]
    rule = proxy.inject(FaultRule("dynamodb", "TransactWriteItems", resource=leads, fault=throttling()))
    lead = {**LEAD, "id": "throttled-for-good"}
    status, headers, body = api(info, "POST", "/v1/leads", lead)
    assert status == 503, body
    assert headers["Retry-After"] == "2"
    assert body["error"]["code"] == "service_unavailable"
    assert rule.injected == 5  # the first attempt and botocore's four retries
    proxy.clear()
    for path in ("", "/score", "/score/history"):  # no lead, no score, no history entry: nothing half-written
        assert api(info, "GET", f"/v1/leads/{lead['id']}{path}")[0] == 404
    assert api(info, "POST", "/v1/leads", lead)[0] == 201  # and the client's retry succeeds
    assert len(_announced(faulty[0], lead["id"])) == 1  # announced once: by the write that happened


def _announced(cloud: LocalCloud, lead_id: str) -> list[dict[str, Any]]:
    """The events in OutboxTable about `lead_id` (a scan: the module's outbox holds a few dozen events)."""
    dynamodb, table = cloud.client("dynamodb"), _table_names(cloud)["OutboxTable"]
    events = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            event = json.loads(item["event"]["S"])
            if event["data"].get("lead_id") == lead_id:
                events.append(event)
    return events


def _subscriber(cloud: LocalCloud, info: dict[str, Any], name: str) -> str:
    """A queue subscribed to the domain-events topic (raw delivery), as an integrator would add one."""
    sqs, sns = cloud.client("sqs"), cloud.client("sns")
    queue_url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=info["events_topic_arn"], Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return queue_url


def _publisher_caught_up(cloud: LocalCloud) -> bool:
    streams = cloud.stream_pollers
    return streams is not None and all(poller.behind == 0 for poller in streams.pollers)


def test_sns_down_for_a_minute_delays_events_but_loses_none_and_sends_each_once(
    faulty: tuple[LocalCloud, FaultProxy], info: dict[str, Any], proxy: FaultProxy
) -> None:
    """The issue's fault: the lead is written, the publish fails. The API answers as usual (it never calls SNS);
    the publisher retries from the first unpublished event; after the outage every event arrives once."""
    cloud = faulty[0]
    queue = _subscriber(cloud, info, "sns-outage-subscriber")
    outage = proxy.inject(FaultRule("sns", "PublishBatch", seconds=60, fault=unavailable()))
    started = time.monotonic()
    lead_ids = [f"sns-outage-{n}" for n in range(3)]
    for lead_id in lead_ids:
        status, _, body = api(info, "POST", "/v1/leads", {**LEAD, "id": lead_id})
        assert status == 201, body
    assert api(info, "POST", "/v1/leads", {**LEAD, "id": lead_ids[0]})[0] == 409  # refused: announces nothing
    assert _wait_for(lambda: outage.injected >= 10), outage  # the publisher kept trying during the outage
    assert all(len(_announced(cloud, lead_id)) == 1 for lead_id in lead_ids)  # written, waiting in the outbox

    sqs = cloud.client("sqs")
    received: list[dict[str, Any]] = []

    def all_arrived() -> bool:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return {event["data"].get("lead_id") for event in received} >= set(lead_ids)

    assert _wait_for(all_arrived, timeout=150), received
    assert time.monotonic() - started >= 59  # none got through during the outage
    assert _wait_for(lambda: _publisher_caught_up(cloud))
    all_arrived()  # one more receive: a duplicate would be here by now
    ours = [event for event in received if event["data"].get("lead_id") in lead_ids]
    assert sorted(event["data"]["lead_id"] for event in ours) == sorted(lead_ids)  # each exactly once
    assert {event["type"] for event in ours} == {"lead.scored"}
    assert {event["id"] for event in ours} == {
        event["id"] for lead_id in lead_ids for event in _announced(cloud, lead_id)
    }  # the ids written with the leads: a subscriber's de-duplication key


def test_a_consumer_throttled_past_its_retries_fails_the_message_and_a_redelivery_succeeds(
    faulty: tuple[LocalCloud, FaultProxy], info: dict[str, Any], proxy: FaultProxy
) -> None:
    cloud = faulty[0]
    assert api(info, "POST", "/v1/leads", {**LEAD, "id": "throttled-consumer"})[0] == 201
    aggregates = _table_names(cloud)["AggregatesTable"]
    rule = proxy.inject(FaultRule("dynamodb", "UpdateItem", resource=aggregates, times=5, fault=throttling()))
    written = proxy.inject(FaultRule("dynamodb", "UpdateItem", resource=aggregates, fault=observe()))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    event = {"lead_id": "throttled-consumer", "actor": "buyer-pro-texas", "action": "contact", "timestamp": now}
    assert api(info, "POST", "/v1/events", {"events": [event]})[0] == 202
    sqs, queue = cloud.client("sqs"), info["queues"]["EventsQueue"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

    def drained() -> bool:
        counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)["Attributes"]
        return written.injected > 0 and all(counts[name] == "0" for name in names)

    assert _wait_for(drained), (rule, written)
    assert rule.injected == 5  # one receive's attempts refused: that invocation failed the message
    dead_letters = cloud.resources.resolve({"Ref": "EventsDeadLetterQueue"})
    assert "Messages" not in sqs.receive_message(QueueUrl=dead_letters, WaitTimeSeconds=0)  # redelivered, not lost


# ------------------------------------------------------------------------------------------------ S3 reads of a bulk file
BULK_ROWS = 1_200
BULK_BATCH_ROWS = 300


@pytest.fixture(scope="module")
def bulk_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "leads.csv"
    generate_file(BULK_ROWS, 11, path, invalid_rate=0.01)
    return path


@pytest.fixture(scope="module")
def completions(faulty: tuple[LocalCloud, FaultProxy]) -> str:
    """An SQS queue subscribed to the domain-events topic for bulk.completed, as a user's subscriber would."""
    cloud = faulty[0]
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=f"it-fault-completions-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    cloud.client("sns").subscribe(TopicArn=cloud.resources.ref("DomainEventsTopic"), Protocol="sqs", Endpoint=arn,
                                  Attributes={"RawMessageDelivery": "true",
                                              "FilterPolicy": json.dumps({"event_type": ["bulk.completed"]})})  # fmt: skip
    return str(url)


@pytest.fixture
def small_batches(process_env: Callable[[str, str], None]) -> None:
    """Batches of 300 rows, parts of 32 KiB, a checkpoint at every part boundary: a 1,200-row file is several
    batches and several parts (as a large file is with the defaults), in this process's functions."""
    process_env("BULK_BATCH_ROWS", str(BULK_BATCH_ROWS))
    process_env("BULK_PART_BYTES", str(32 << 10))
    process_env("BULK_CHECKPOINT_SECONDS", "0")


class _CountingScorer:
    """Rows handed to Scorer.score_batch (the functions run in this process): a row scored twice counts twice."""

    def __init__(self, patch: pytest.MonkeyPatch) -> None:
        self.rows = 0
        original = Scorer.score_batch

        def counting(scorer: Scorer, batch: Any) -> Any:
            self.rows += batch.rows
            return original(scorer, batch)

        patch.setattr(Scorer, "score_batch", counting)


def _new_tenant(cloud: LocalCloud) -> str:
    tenant = f"fault{uuid.uuid4().hex[:8]}"
    assert TenantRepository(cloud.resources.ref("TenantsTable")).create(Tenant(tenant_id=tenant))
    return tenant


def _completed(cloud: LocalCloud, completions: str, key: str, timeout: float = 90.0) -> dict[str, Any]:
    message, _ = receive_until(
        cloud.client("sqs"), completions, lambda m: json.loads(m["Body"])["data"]["key"] == key, timeout=timeout
    )
    event: dict[str, Any] = json.loads(message["Body"])
    return event


def _upload_read(key: str) -> Callable[[Call], bool]:
    """A GetObject of the uploaded file itself (not of the job's checkpoint objects under bulk-work/)."""
    return lambda call: call.path.endswith("/" + key)


def _leads_items(cloud: LocalCloud, tenant: str) -> dict[str, list[str]]:
    """Each of the tenant's leads (pk) -> the sort keys of its items in LeadsTable."""
    items: dict[str, list[str]] = {}
    paginator = cloud.client("dynamodb").get_paginator("scan")
    pages = paginator.paginate(
        TableName=cloud.resources.ref("LeadsTable"),
        FilterExpression="begins_with(pk, :t)",
        ExpressionAttributeValues={":t": {"S": f"{tenant}#"}},
        ProjectionExpression="pk, sk",
    )
    for page in pages:
        for item in page["Items"]:
            items.setdefault(item["pk"]["S"], []).append(item["sk"]["S"])
    return items


def _results_ids(cloud: LocalCloud, bucket: str, key: str) -> list[str]:
    body = cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return [str(value) for value in pa_csv.read_csv(pa.py_buffer(body)).column("id").to_pylist()]


def _assert_each_row_once(
    cloud: LocalCloud, tenant: str, event: dict[str, Any], scored_rows: int, one_shot: bytes | None = None
) -> None:
    data = event["data"]
    assert data["status"] == "completed", data
    bucket = cloud.resources.ref("UploadsBucket")
    ids = _results_ids(cloud, bucket, data["results_key"])
    assert len(ids) == len(set(ids)) == data["scored"]  # every valid row in the results, once
    errors = cloud.client("s3").get_object(Bucket=bucket, Key=data["errors_key"])["Body"].read().decode()
    assert len({json.loads(line)["row"] for line in errors.splitlines()}) == data["invalid"]  # every other row
    assert data["scored"] + data["invalid"] == data["rows"] == BULK_ROWS
    assert scored_rows == data["scored"]  # no row scored twice (nor skipped)
    leads = _leads_items(cloud, tenant)
    assert len(leads) == data["scored"]
    for sort_keys in leads.values():  # one lead item, one score, one score-history entry each
        assert sort_keys.count("lead") == sort_keys.count("score") == 1
        assert sum(1 for sk in sort_keys if sk.startswith(HISTORY_PREFIX)) == 1, sort_keys
    if one_shot is not None:
        assert cloud.client("s3").get_object(Bucket=bucket, Key=data["results_key"])["Body"].read() == one_shot
    work = cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"bulk-work/{tenant}/")
    assert work.get("KeyCount", 0) == 0  # the checkpoint objects are gone


@pytest.mark.usefixtures("small_batches")
def test_a_bulk_file_read_reset_mid_body_is_read_again_and_every_row_scored_once(
    faulty: tuple[LocalCloud, FaultProxy], proxy: FaultProxy, bulk_file: Path, completions: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    cloud, tenant = faulty[0], _new_tenant(faulty[0])
    key = f"uploads/{tenant}/leads.csv"
    half = bulk_file.stat().st_size // 2
    rule = proxy.inject(
        FaultRule("s3", "GetObject", when=_upload_read(key), times=1, fault=reset_mid_body(after_bytes=half))
    )
    counter = _CountingScorer(monkeypatch)
    cloud.client("s3").upload_file(str(bulk_file), cloud.resources.ref("UploadsBucket"), key)

    event = _completed(cloud, completions, key)

    assert rule.injected == 1  # the function's read of the file did break half-way
    _assert_each_row_once(cloud, tenant, event, counter.rows)


@pytest.mark.usefixtures("small_batches")
def test_a_read_failing_past_the_transfer_retries_after_a_checkpoint_continues_from_it(
    faulty: tuple[LocalCloud, FaultProxy], proxy: FaultProxy, bulk_file: Path, completions: str,
    monkeypatch: pytest.MonkeyPatch, process_env: Callable[[str, str], None],
) -> None:  # fmt: skip
    """A job in several invocations (each checkpoints after one batch: less time left than the margin), whose third
    invocation cannot read the file at all (every attempt reset mid-body): that invocation fails, SQS redelivers its
    continuation, and the job goes on from the last checkpoint: the results are the one-shot run's bytes."""
    cloud = faulty[0]
    bucket, s3 = cloud.resources.ref("UploadsBucket"), cloud.client("s3")
    one_shot_tenant = _new_tenant(cloud)
    one_shot_key = f"uploads/{one_shot_tenant}/leads.csv"
    s3.upload_file(str(bulk_file), bucket, one_shot_key)
    one_shot = _completed(cloud, completions, one_shot_key)
    assert one_shot["data"]["invocations"] == 1
    one_shot_bytes = s3.get_object(Bucket=bucket, Key=one_shot["data"]["results_key"])["Body"].read()

    process_env("BULK_TIME_MARGIN_SECONDS", "900")  # the whole Lambda timeout: a checkpoint after every batch
    tenant = _new_tenant(cloud)
    key = f"uploads/{tenant}/leads.csv"
    half = bulk_file.stat().st_size // 2
    attempts = 5  # s3transfer's num_download_attempts: all of one invocation's tries
    rule = proxy.inject(
        FaultRule("s3", "GetObject", when=_upload_read(key), skip=2, times=attempts, fault=reset_mid_body(half))
    )
    counter = _CountingScorer(monkeypatch)
    s3.upload_file(str(bulk_file), bucket, key)

    event = _completed(cloud, completions, key)

    assert rule.injected == attempts
    assert rule.matched == 2 + attempts  # two invocations read the file, the third could not
    assert event["data"]["invocations"] >= BULK_ROWS // BULK_BATCH_ROWS  # one batch per invocation
    _assert_each_row_once(cloud, tenant, event, counter.rows, one_shot=one_shot_bytes)
    assert event["data"]["scored"] == one_shot["data"]["scored"]
    assert event["data"]["invalid"] == one_shot["data"]["invalid"]
