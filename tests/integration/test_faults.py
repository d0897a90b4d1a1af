"""Faults injected between the local cloud's functions and AWS (infra/local_cloud/faults.py), and what a user
sees meanwhile and after: one cloud whose functions reach moto through the fault proxy, for the whole module."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infra.local_cloud import LocalCloud
from infra.local_cloud.faults import FaultProxy, FaultRule, behind_proxy, compressed_backoff, observe, throttling
from tests.integration.conftest import TEMPLATE
from tests.integration.test_backbone import EXTREME_SIGNALS, LEAD, api

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def faulty() -> Iterator[tuple[LocalCloud, FaultProxy]]:
    """The cloud and its proxy; botocore's backoff compressed, as the pollers' retry delay is."""
    with compressed_backoff(), behind_proxy(TEMPLATE, retry_delay=0.5) as (cloud, proxy):
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
