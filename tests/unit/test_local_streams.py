"""Stream pollers against the real moto server on 127.0.0.1: Lambda's DynamoDB Streams event-source mapping,
locally (in order, filtered, retried from the first failed record, given up to OnFailure)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local_cloud import LocalAwsServer
from infra.local_cloud.server import LocalCloudError
from infra.local_cloud.streams import StreamPoller, parse_filters, passes, retry_index
from tests.unit.test_local_pollers import wait_for

INSERTS = parse_filters({"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]})


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAwsServer]:
    with LocalAwsServer(port=0) as running:
        yield running


def make_table(dynamodb: Any) -> tuple[str, str]:
    name = f"t-{uuid.uuid4().hex[:12]}"
    created = dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return name, created["TableDescription"]["LatestStreamArn"]


class Function:
    """Records each batch's keys; `plan` answers the invocations in turn (a response, or an exception)."""

    def __init__(self, *plan: Any) -> None:
        self.plan = list(plan)
        self.batches: list[list[str]] = []

    def __call__(self, function_id: str, event: Any) -> Any:
        assert all(r["eventSource"] == "aws:dynamodb" and r["eventSourceARN"] for r in event["Records"])
        self.batches.append([record["dynamodb"]["Keys"]["pk"]["S"] for record in event["Records"]])
        answer = self.plan.pop(0) if self.plan else {"batchItemFailures": []}
        if isinstance(answer, Exception):
            raise answer
        return answer(event) if callable(answer) else answer

    @property
    def handled(self) -> list[str]:
        return [key for batch in self.batches for key in batch]


def poller(server: LocalAwsServer, arn: str, function: Function, **options: Any) -> StreamPoller:
    options = {"batch_size": 3, "filters": INSERTS, "report_batch_item_failures": True, "retry_delay": 0.0} | options
    return StreamPoller("Fn", arn, function, server.client("dynamodbstreams"), **options)


def put(dynamodb: Any, table: str, *keys: str, value: str = "v") -> None:
    for key in keys:
        dynamodb.put_item(TableName=table, Item={"pk": {"S": key}, "value": {"S": value}})


def test_records_arrive_in_order_in_batches_and_only_inserts_pass_the_filter(server: LocalAwsServer) -> None:
    dynamodb = server.client("dynamodb")
    table, arn = make_table(dynamodb)
    put(dynamodb, table, "a", "b", "c", "d")
    put(dynamodb, table, "a", value="changed")  # a MODIFY: filtered out
    function = Function()
    running = poller(server, arn, function).start()
    try:
        wait_for(lambda: function.handled == ["a", "b", "c", "d"])
        put(dynamodb, table, "e")
        wait_for(lambda: function.handled == ["a", "b", "c", "d", "e"])
    finally:
        running.stop()
    assert function.batches[:2] == [["a", "b", "c"], ["d"]]


def test_a_reported_failure_retries_from_that_record_and_the_ones_before_are_not_sent_again(
    server: LocalAwsServer,
) -> None:
    dynamodb = server.client("dynamodb")
    table, arn = make_table(dynamodb)
    put(dynamodb, table, "a", "b", "c")

    def fail_b(event: Any) -> Any:
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["dynamodb"]["SequenceNumber"]}]}

    function = Function(fail_b, RuntimeError("crash"))
    running = poller(server, arn, function)
    while running.poll_once():
        pass
    assert function.batches == [["a", "b", "c"], ["b", "c"], ["b", "c"]]  # after the crash: the whole rest again


def test_a_failed_transaction_does_not_stop_the_stream(server: LocalAwsServer) -> None:
    """moto swaps the table object when a transaction fails; the poller must still see later writes."""
    dynamodb = server.client("dynamodb")
    table, arn = make_table(dynamodb)
    function = Function()
    running = poller(server, arn, function)
    put(dynamodb, table, "a")
    running.poll_once()
    item = {"pk": {"S": "a"}}
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "x"}}}},
                {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            ]
        )
    put(dynamodb, table, "b")
    running.poll_once()
    assert function.handled == ["a", "b"]  # and not x: the cancelled transaction wrote nothing


def test_exhausted_retries_send_the_batch_record_to_on_failure_and_reading_goes_on(server: LocalAwsServer) -> None:
    dynamodb, sqs = server.client("dynamodb"), server.client("sqs")
    table, arn = make_table(dynamodb)
    queue = sqs.create_queue(QueueName=f"onfailure-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    put(dynamodb, table, "a", "b")
    function = Function(RuntimeError("1"), RuntimeError("2"), RuntimeError("3"))
    running = poller(server, arn, function, batch_size=1, maximum_retry_attempts=2, on_failure=(sqs, queue))
    while running.poll_once():
        pass
    assert function.batches == [["a"], ["a"], ["a"], ["b"]]  # the first try and two retries, then on
    [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert (info["batchSize"], info["streamArn"]) == (1, arn)
    assert running.given_up == 1


def test_latest_starts_after_what_is_already_there(server: LocalAwsServer) -> None:
    dynamodb = server.client("dynamodb")
    table, arn = make_table(dynamodb)
    put(dynamodb, table, "old")
    function = Function()
    running = poller(server, arn, function, starting_position="LATEST")
    running.start()
    try:
        put(dynamodb, table, "new")
        wait_for(lambda: function.handled == ["new"])
    finally:
        running.stop()


def test_filters_and_partial_responses_follow_lambdas_rules() -> None:
    insert = {"eventName": "INSERT", "dynamodb": {"NewImage": {"type": {"S": "lead.scored"}}}}
    assert passes(INSERTS, insert)
    assert not passes(INSERTS, {**insert, "eventName": "MODIFY"})
    nested = parse_filters(
        {"Filters": [{"Pattern": '{"dynamodb": {"NewImage": {"type": {"S": ["bulk.completed"]}}}}'}]}
    )
    assert not passes(nested, insert)
    assert passes([], insert)  # no FilterCriteria: everything
    for unsupported in ('{"eventName": [{"prefix": "IN"}]}', '{"eventName": "INSERT"}', "not json"):
        with pytest.raises(LocalCloudError):
            parse_filters({"Filters": [{"Pattern": unsupported}]})
    numbers = ["1", "2", "3"]
    assert retry_index({"batchItemFailures": []}, numbers, True) is None
    assert retry_index({"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]}, numbers, True) == 1
    assert retry_index({"batchItemFailures": [{"itemIdentifier": "9"}]}, numbers, True) == 0  # unknown: all
    assert retry_index("nonsense", numbers, True) == 0
    assert retry_index({"batchItemFailures": [{"itemIdentifier": "2"}]}, numbers, False) is None
