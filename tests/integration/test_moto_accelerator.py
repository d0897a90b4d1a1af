"""The moto query accelerator (infra/local_cloud/moto_accelerator.py) answers exactly as plain moto does.

Two moto servers, one accelerated and one with AIQLEADS_MOTO_ACCELERATOR=0, each with the real template's
LeadsTable, get the same seeded random sequence of writes (PutItem, UpdateItem that moves items between index
partitions or out of an index, DeleteItem, BatchWriteItem, TransactWriteItems including cancelled ones) and
reads (base-table and ScoreIndex/TenantIndex queries with range conditions, Limit, both directions, filters,
projections, pagination through LastEvaluatedKey, hand-made ExclusiveStartKeys; scans), and every response
(or error code) must be identical.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.local_cloud.server import LocalAwsServer
from infra.template import load_template

from .conftest import TEMPLATE

pytestmark = pytest.mark.integration

TENANTS = ("t1", "t2")
MARKETS = ("austin", "boise", "reno")
LEADS = 24
OPERATIONS = 400


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[LocalAwsServer, LocalAwsServer]]:
    fast = LocalAwsServer(port=0)
    plain = LocalAwsServer(port=0, environment={"AIQLEADS_MOTO_ACCELERATOR": "0"})
    with fast, plain:
        yield fast, plain


def _create_leads_table(server: LocalAwsServer, name: str) -> Any:
    properties = load_template(TEMPLATE)["Resources"]["LeadsTable"]["Properties"]
    dynamodb = server.client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        GlobalSecondaryIndexes=properties["GlobalSecondaryIndexes"],
    )
    return dynamodb


def test_the_local_cloud_runs_the_accelerator(servers: tuple[LocalAwsServer, LocalAwsServer]) -> None:
    fast, _ = servers
    assert fast._process is not None
    assert any(str(arg).endswith("moto_accelerator.py") for arg in fast._process.args)  # type: ignore[union-attr]


class _Generator:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def pk(self) -> str:
        return f"{self.random.choice(TENANTS)}#lead-{self.random.randrange(LEADS):02d}"

    def sk(self) -> str:
        return self.random.choice(["lead", "score", "score", f"conversion#2026-0{self.random.randrange(1, 4)}"])

    def key(self) -> dict[str, Any]:
        return {"pk": {"S": self.pk()}, "sk": {"S": self.sk()}}

    def score_attrs(self, pk: str) -> dict[str, Any]:
        tenant, lead = pk.split("#")
        score = self.random.randrange(0, 101)
        attrs: dict[str, Any] = {
            "score": {"N": str(score)},
            "market": {"S": self.random.choice(MARKETS)},
            "payload": {"S": "x" * self.random.randrange(0, 40)},
        }
        if self.random.random() < 0.9:
            attrs["gsi1pk"] = {"S": f"{tenant}#{attrs['market']['S']}"}
        if self.random.random() < 0.9:
            attrs["gsi1sk"] = {"S": f"{score:03d}#{lead}"}
        if self.random.random() < 0.5:
            attrs["gsi2pk"] = {"S": tenant}
            attrs["gsi2sk"] = {"S": f"2026-0{self.random.randrange(1, 10)}-1{self.random.randrange(10)}#{lead}"}
        return attrs

    def item(self) -> dict[str, Any]:
        key = self.key()
        return key | self.score_attrs(key["pk"]["S"])

    def update(self, table: str) -> dict[str, Any]:
        key = self.key()
        tenant, lead = key["pk"]["S"].split("#")
        choice = self.random.randrange(4)
        if choice == 0:  # moves the item to another ScoreIndex partition and position
            score = self.random.randrange(101)
            return {
                "TableName": table,
                "Key": key,
                "UpdateExpression": "SET gsi1pk = :p, gsi1sk = :s, score = :n",
                "ExpressionAttributeValues": {
                    ":p": {"S": f"{tenant}#{self.random.choice(MARKETS)}"},
                    ":s": {"S": f"{score:03d}#{lead}"},
                    ":n": {"N": str(score)},
                },
            }
        if choice == 1:  # out of the ScoreIndex
            return {"TableName": table, "Key": key, "UpdateExpression": "REMOVE gsi1sk"}
        if choice == 2:
            return {
                "TableName": table,
                "Key": key,
                "UpdateExpression": "SET gsi2pk = :t, gsi2sk = :s",
                "ExpressionAttributeValues": {":t": {"S": tenant}, ":s": {"S": f"2026-05-0{choice}#{lead}"}},
            }
        return {
            "TableName": table,
            "Key": key,
            "UpdateExpression": "SET payload = :p",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {":p": {"S": "updated"}},
        }

    def query(self, table: str) -> dict[str, Any]:
        kind = self.random.randrange(3)
        request: dict[str, Any] = {"TableName": table, "ScanIndexForward": self.random.random() < 0.5}
        values: dict[str, Any] = {}
        if kind == 0:
            condition = "pk = :h"
            values[":h"] = {"S": self.pk()}
            range_conditions = [
                (" AND begins_with(sk, :r)", {":r": {"S": "conv"}}),
                (" AND sk BETWEEN :a AND :b", {":a": {"S": "conversion#2026-02"}, ":b": {"S": "score"}}),
                (" AND sk >= :r", {":r": {"S": "lead"}}),
            ]
        elif kind == 1:
            request["IndexName"] = "ScoreIndex"
            condition = "gsi1pk = :h"
            values[":h"] = {"S": f"{self.random.choice(TENANTS)}#{self.random.choice(MARKETS)}"}
            low = self.random.randrange(0, 100)
            range_conditions = [
                (" AND begins_with(gsi1sk, :r)", {":r": {"S": str(self.random.randrange(2))}}),
                (" AND gsi1sk BETWEEN :a AND :b", {":a": {"S": f"{low:03d}"}, ":b": {"S": f"{low + 30:03d}"}}),
                (" AND gsi1sk >= :r", {":r": {"S": f"{low:03d}"}}),
                (" AND gsi1sk < :r", {":r": {"S": f"{low:03d}"}}),
            ]
        else:
            request["IndexName"] = "TenantIndex"
            condition = "gsi2pk = :h"
            values[":h"] = {"S": self.random.choice(TENANTS)}
            range_conditions = [
                (" AND begins_with(gsi2sk, :r)", {":r": {"S": "2026-0" + str(self.random.randrange(1, 10))}}),
                (" AND gsi2sk > :r", {":r": {"S": "2026-05"}}),
            ]
        if self.random.random() < 0.5:
            extra, extra_values = self.random.choice(range_conditions)
            condition += extra
            values |= extra_values
        if self.random.random() < 0.8:
            request["Limit"] = self.random.choice([1, 2, 3, 5, 8, 13])
        if kind != 2 and self.random.random() < 0.25:
            request["FilterExpression"] = "score > :min"
            values[":min"] = {"N": str(self.random.randrange(100))}
        if kind != 2 and self.random.random() < 0.25:
            request["ProjectionExpression"] = "pk, sk, score, gsi1sk"
        request["KeyConditionExpression"] = condition
        request["ExpressionAttributeValues"] = values
        return request


def _call(dynamodb: Any, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    try:
        response = dict(getattr(dynamodb, operation)(**request))
    except ClientError as error:
        return {"error": error.response["Error"]["Code"], "reasons": error.response.get("CancellationReasons")}
    response.pop("ResponseMetadata", None)
    return response


def _both(clients: tuple[Any, Any], operation: str, request: dict[str, Any], where: str) -> dict[str, Any]:
    fast, plain = (_call(client, operation, request) for client in clients)
    assert fast == plain, f"{where}: {operation} {request}"
    return fast


@pytest.mark.parametrize("seed", [1, 2])
def test_same_responses_as_plain_moto(servers: tuple[LocalAwsServer, LocalAwsServer], seed: int) -> None:
    table = f"Leads-{seed}"
    clients = (_create_leads_table(servers[0], table), _create_leads_table(servers[1], table))
    generate = _Generator(seed)
    known_items: list[dict[str, Any]] = []
    queries = pages = 0
    for step in range(OPERATIONS):
        where = f"seed {seed} step {step}"
        roll = generate.random.random()
        if roll < 0.25:
            item = generate.item()
            known_items.append(item)
            _both(clients, "put_item", {"TableName": table, "Item": item}, where)
        elif roll < 0.35:
            _both(clients, "update_item", generate.update(table), where)
        elif roll < 0.40:
            _both(clients, "delete_item", {"TableName": table, "Key": generate.key()}, where)
        elif roll < 0.45:
            writes: dict[str, dict[str, Any]] = {}
            for _ in range(generate.random.randrange(1, 20)):
                item = generate.item()
                key = item["pk"]["S"] + "|" + item["sk"]["S"]
                if generate.random.random() < 0.2:
                    writes[key] = {"DeleteRequest": {"Key": {"pk": item["pk"], "sk": item["sk"]}}}
                else:
                    writes[key] = {"PutRequest": {"Item": item}}
                    known_items.append(item)
            _both(clients, "batch_write_item", {"RequestItems": {table: list(writes.values())}}, where)
        elif roll < 0.50:
            operations: dict[str, dict[str, Any]] = {}
            for _ in range(generate.random.randrange(1, 4)):
                item = generate.item()
                key = item["pk"]["S"] + "|" + item["sk"]["S"]
                put: dict[str, Any] = {"TableName": table, "Item": item}
                if generate.random.random() < 0.3:  # often fails: the whole transaction is cancelled
                    put["ConditionExpression"] = "attribute_not_exists(pk)"
                operations[key] = {"Put": put}
            update = generate.update(table)
            key = update["Key"]["pk"]["S"] + "|" + update["Key"]["sk"]["S"]
            if key not in operations:
                operations[key] = {"Update": update}
            _both(clients, "transact_write_items", {"TransactItems": list(operations.values())}, where)
        elif roll < 0.53:
            _both(clients, "scan", {"TableName": table, "Limit": generate.random.choice([5, 50, 500])}, where)
        else:
            request = generate.query(table)
            if known_items and generate.random.random() < 0.15:  # a start key made by hand from some item
                source = generate.random.choice(known_items)
                index_keys = {"ScoreIndex": ["gsi1pk", "gsi1sk"], "TenantIndex": ["gsi2pk", "gsi2sk"]}
                names = ["pk", "sk", *index_keys.get(request.get("IndexName", ""), [])]
                if all(name in source for name in names):
                    request["ExclusiveStartKey"] = {name: source[name] for name in names}
            queries += 1
            for _ in range(12):  # follow the pages
                response = _both(clients, "query", request, where)
                pages += 1
                if "LastEvaluatedKey" not in response:
                    break
                request = request | {"ExclusiveStartKey": response["LastEvaluatedKey"]}
    assert queries > 100
    assert pages > queries
