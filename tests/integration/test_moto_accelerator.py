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
from concurrent.futures import ThreadPoolExecutor
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


def _raw_bodies(dynamodb: Any) -> list[tuple[int, bytes]]:
    """The status and body bytes of every response the client receives (the same JSON, byte for byte)."""
    bodies: list[tuple[int, bytes]] = getattr(dynamodb, "_raw_bodies", None) or []
    if not hasattr(dynamodb, "_raw_bodies"):

        def keep(response_dict: dict[str, Any], **_: Any) -> None:
            bodies.append((response_dict["status_code"], response_dict["body"]))

        dynamodb.meta.events.register("before-parse.dynamodb", keep)
        dynamodb._raw_bodies = bodies
    return bodies


def _call(dynamodb: Any, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    bodies = _raw_bodies(dynamodb)
    bodies.clear()
    try:
        response = dict(getattr(dynamodb, operation)(**request))
    except ClientError as error:
        response = {"error": error.response["Error"]["Code"], "reasons": error.response.get("CancellationReasons")}
    response.pop("ResponseMetadata", None)
    response["raw"] = list(bodies)
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


# ------------------------------------------------------------------------------------------------ response path
#
# The accelerator also writes DynamoDB responses itself (maps of AttributeValues), projects items once per
# ProjectionExpression and sizes items incrementally on writes. Every attribute type, nested values, number
# formats that boto3's projection round trip normalises, reserved words through ExpressionAttributeNames, nested
# and list-element projections (moto's own path), index projections (ALL, KEYS_ONLY, INCLUDE),
# ReturnConsumedCapacity, ReturnValues, Select COUNT and items at and over the size limit: identical responses.

RICH_KEYS = 12
RICH_OPERATIONS = 260


@pytest.fixture(scope="module")
def rich_servers() -> Iterator[tuple[LocalAwsServer, LocalAwsServer]]:
    # set order (SS/BS through a projection's boto3 round trip) follows string hashing: one seed for both
    fast = LocalAwsServer(port=0, environment={"PYTHONHASHSEED": "7"})
    plain = LocalAwsServer(port=0, environment={"AIQLEADS_MOTO_ACCELERATOR": "0", "PYTHONHASHSEED": "7"})
    with fast, plain:
        yield fast, plain


def _create_rich_table(server: LocalAwsServer, name: str) -> Any:
    dynamodb = server.client("dynamodb")
    string = "S"
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": t}
            for n, t in (("pk", string), ("sk", "N"), ("g", string), ("gs", "N"), ("k", string))
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "All",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "gs", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "Include",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["name", "m", "n"]},
            },
            {
                "IndexName": "KeysOnly",
                "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    )
    return dynamodb


class _RichGenerator:
    NUMBERS = ("0", "-0", "7", "007", "1.50", "-2.25", "1e2", "3E-5", "12345678901234567890", "0.000")
    STRINGS = ("", "a", "size", "héllo ✓", 'quote " and \\ backslash', "x" * 50, "\u0000nul")

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def number(self) -> str:
        return self.random.choice(self.NUMBERS)

    def string(self) -> str:
        return self.random.choice(self.STRINGS)

    def blob(self) -> bytes:
        return bytes(self.random.randrange(256) for _ in range(self.random.randrange(0, 9)))

    def value(self, depth: int = 0) -> dict[str, Any]:
        kinds = ["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS"] + (["M", "L"] if depth < 2 else [])
        kind = self.random.choice(kinds)
        if kind == "S":
            return {"S": self.string()}
        if kind == "N":
            return {"N": self.number()}
        if kind == "B":
            return {"B": self.blob()}
        if kind == "BOOL":
            return {"BOOL": self.random.random() < 0.5}
        if kind == "NULL":
            return {"NULL": True}
        if kind == "SS":
            return {"SS": list({self.string() or "e" for _ in range(self.random.randrange(1, 4))})}
        if kind == "NS":
            return {"NS": list({str(self.random.randrange(-50, 50)) for _ in range(self.random.randrange(1, 4))})}
        if kind == "BS":
            return {"BS": list({self.blob() + b"!" for _ in range(self.random.randrange(1, 4))})}
        if kind == "M":
            names = ["a", "b", "size", "data"][: self.random.randrange(0, 5)]
            return {"M": {name: self.value(depth + 1) for name in names}}
        return {"L": [self.value(depth + 1) for _ in range(self.random.randrange(0, 4))]}

    def key(self) -> dict[str, Any]:
        return {"pk": {"S": f"p{self.random.randrange(RICH_KEYS)}"}, "sk": {"N": str(self.random.randrange(4))}}

    def item(self) -> dict[str, Any]:
        item = self.key() | {
            "name": {"S": self.string()},  # a reserved word
            "n": {"N": self.number()},
            "m": {"M": {"a": self.value(1), "size": {"N": self.number()}, "l": {"L": [self.value(2)]}}},
            "l": {"L": [self.value(1) for _ in range(self.random.randrange(0, 3))]},
        }
        for name in ("data", "x1", "x2", "x3"):  # `data` is reserved too
            if self.random.random() < 0.6:
                item[name] = self.value()
        if self.random.random() < 0.8:
            item["g"] = {"S": f"g{self.random.randrange(3)}"}
            if self.random.random() < 0.8:
                item["gs"] = {"N": str(self.random.randrange(20))}
        if self.random.random() < 0.5:
            item["k"] = {"S": f"k{self.random.randrange(2)}"}
        if self.random.random() < 0.03:  # at or over moto's item size limit
            item["big"] = {"S": "z" * self.random.choice([404_000, 406_000])}
        return item

    def projection(self, request: dict[str, Any]) -> None:
        """Sometimes a ProjectionExpression (top-level names, reserved words by #name, nested paths, list
        elements) with its ExpressionAttributeNames."""
        if self.random.random() < 0.4:
            return
        choices = [
            ("#nm", "name"),
            ("n", None),
            ("#d", "data"),
            ("x1", None),
            ("pk", None),
            ("sk", None),
            ("m", None),
            ("l", None),
            ("missing", None),
        ]
        if self.random.random() < 0.25:
            choices += [("m.#sz", "size"), ("l[0]", None), ("m.a", None)]
        picked = self.random.sample(choices, self.random.randrange(1, 5))
        paths = [path for path, _ in picked]
        if "m" in paths:  # overlapping paths are an error (also tested, rarely)
            paths = [p for p in paths if not p.startswith("m.") or self.random.random() < 0.1]
        if "l" in paths:
            paths = [p for p in paths if not p.startswith("l[") or self.random.random() < 0.1]
        request["ProjectionExpression"] = ", ".join(paths)
        names = {path.split(".")[0]: name for path, name in picked if name and path.split(".")[0] in paths}
        names |= {"#sz": "size"} if any("#sz" in p for p in paths) else {}
        if names:
            request["ExpressionAttributeNames"] = request.get("ExpressionAttributeNames", {}) | names

    def capacity(self, request: dict[str, Any]) -> None:
        roll = self.random.random()
        if roll < 0.4:
            request["ReturnConsumedCapacity"] = self.random.choice(["TOTAL", "INDEXES", "NONE"])


def test_same_responses_for_every_attribute_type(rich_servers: tuple[LocalAwsServer, LocalAwsServer]) -> None:
    table = "Rich"
    clients = (_create_rich_table(rich_servers[0], table), _create_rich_table(rich_servers[1], table))
    generate = _RichGenerator(11)
    counts: dict[str, int] = {}
    for step in range(RICH_OPERATIONS):
        where = f"rich step {step}"
        roll = generate.random.random()
        request: dict[str, Any]
        if roll < 0.25 or step < 30:
            operation = "put_item"
            request = {"TableName": table, "Item": generate.item()}
            if generate.random.random() < 0.3:
                request["ReturnValues"] = "ALL_OLD"
            generate.capacity(request)
        elif roll < 0.30:
            operation = "batch_write_item"
            writes = {}
            for _ in range(generate.random.randrange(1, 8)):
                item = generate.item()
                writes[(item["pk"]["S"], item["sk"]["N"])] = {"PutRequest": {"Item": item}}
            request = {"RequestItems": {table: list(writes.values())}}
        elif roll < 0.38:
            operation = "update_item"
            request = {
                "TableName": table,
                "Key": generate.key(),
                "ReturnValues": generate.random.choice(["NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"]),
                **generate.random.choice(
                    [
                        {"UpdateExpression": "SET m.a = :v", "ExpressionAttributeValues": {":v": generate.value()}},
                        {
                            "UpdateExpression": "SET #nm = :v",
                            "ExpressionAttributeNames": {"#nm": "name"},
                            "ExpressionAttributeValues": {":v": {"S": generate.string()}},
                        },
                        {
                            "UpdateExpression": "SET l = list_append(if_not_exists(l, :e), :v)",
                            "ExpressionAttributeValues": {":e": {"L": []}, ":v": {"L": [generate.value()]}},
                        },
                        {"UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1.5"}}},
                        {"UpdateExpression": "REMOVE x1, m.#sz", "ExpressionAttributeNames": {"#sz": "size"}},
                        {
                            "UpdateExpression": "SET g = :g, gs = :s",
                            "ExpressionAttributeValues": {
                                ":g": {"S": "g1"},
                                ":s": {"N": str(generate.random.randrange(20))},
                            },
                        },
                    ]
                ),
            }
            generate.capacity(request)
        elif roll < 0.41:
            operation = "delete_item"
            request = {"TableName": table, "Key": generate.key(), "ReturnValues": "ALL_OLD"}
        elif roll < 0.53:
            operation = "get_item"
            request = {"TableName": table, "Key": generate.key()}
            generate.projection(request)
            generate.capacity(request)
        elif roll < 0.60:
            operation = "batch_get_item"
            keys = {
                (k["pk"]["S"], k["sk"]["N"]): k
                for k in (generate.key() for _ in range(generate.random.randrange(1, 9)))
            }
            batch: dict[str, Any] = {"Keys": list(keys.values())}
            generate.projection(batch)
            request = {"RequestItems": {table: batch}}
            generate.capacity(request)
        elif roll < 0.66:
            operation = "scan"
            request = {"TableName": table, "Limit": generate.random.choice([3, 10, 100])}
            generate.projection(request)
            if generate.random.random() < 0.3:
                request["FilterExpression"] = "attribute_exists(m.#sz) OR n > :z"
                request["ExpressionAttributeNames"] = request.get("ExpressionAttributeNames", {}) | {"#sz": "size"}
                request["ExpressionAttributeValues"] = {":z": {"N": "0"}}
        else:
            operation = "query"
            index = generate.random.choice([None, None, "All", "Include", "KeysOnly"])
            request = {"TableName": table, "ScanIndexForward": generate.random.random() < 0.5}
            if index is None:
                request["KeyConditionExpression"] = "pk = :h"
                request["ExpressionAttributeValues"] = {":h": generate.key()["pk"]}
            else:
                attribute = "k" if index == "KeysOnly" else "g"
                request |= {"IndexName": index, "KeyConditionExpression": f"{attribute} = :h"}
                request["ExpressionAttributeValues"] = {":h": {"S": f"{attribute}{generate.random.randrange(2)}"}}
            if index in (None, "All") and generate.random.random() < 0.4:
                request["KeyConditionExpression"] += " AND " + ("sk" if index is None else "gs") + " >= :r"
                request["ExpressionAttributeValues"][":r"] = {"N": str(generate.random.randrange(10))}
            if generate.random.random() < 0.3:
                request["FilterExpression"] = "attribute_exists(#d) OR size(#nm) > :one"
                request["ExpressionAttributeNames"] = {"#d": "data", "#nm": "name"}
                request["ExpressionAttributeValues"][":one"] = {"N": "1"}
            if index != "KeysOnly":
                generate.projection(request)
            if generate.random.random() < 0.1:
                request["Select"] = "COUNT"
                request.pop("ProjectionExpression", None)
                request.pop("ExpressionAttributeNames", None) if "FilterExpression" not in request else None
            generate.capacity(request)
            if generate.random.random() < 0.6:
                request["Limit"] = generate.random.choice([1, 2, 3, 5])
            for _ in range(10):
                response = _both(clients, operation, request, where)
                counts["query pages"] = counts.get("query pages", 0) + 1
                if "LastEvaluatedKey" not in response:
                    break
                request = request | {"ExclusiveStartKey": response["LastEvaluatedKey"]}
            continue
        response = _both(clients, operation, request, where)
        counts[operation] = counts.get(operation, 0) + 1
        if "error" in response:
            counts["errors"] = counts.get("errors", 0) + 1
    # the same projected Query again and again (kept projections), then after in-place updates of its items
    for index, attribute in ((None, "pk"), ("All", "g")):
        request = {
            "TableName": table,
            "KeyConditionExpression": f"{attribute} = :h",
            "ExpressionAttributeValues": {":h": {"S": f"{attribute[0]}1"}},
            "ProjectionExpression": "#nm, n, m, sk, l",
            "ExpressionAttributeNames": {"#nm": "name"},
            "ReturnConsumedCapacity": "INDEXES",
        } | ({"IndexName": index} if index else {})
        for round_ in range(4):
            response = _both(clients, "query", request, f"repeat {index} {round_}")
            assert response["Items"], response
            for item in response["Items"][:3]:
                key = {"pk": item.get("pk") or {"S": "p1"}, "sk": item["sk"]}
                update = {
                    "TableName": table,
                    "Key": key,
                    "UpdateExpression": "SET n = :n, m.a = :a",
                    "ExpressionAttributeValues": {":n": {"N": str(round_)}, ":a": {"S": f"round {round_}"}},
                }
                if round_ % 2:
                    _both(clients, "update_item", update, f"repeat update {index} {round_}")
    assert counts.get("query pages", 0) > 80, counts
    assert counts.get("get_item", 0) > 15, counts
    assert counts.get("errors", 0) > 0, counts


def _put(name: str, pk: str, sk: str = "lead", *, new: bool = True) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": name, "Item": {"pk": {"S": pk}, "sk": {"S": sk}, "tenant_id": {"S": "t1"}}}
    if new:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    return {"Put": put}


def test_a_retried_transaction_runs_once(servers: tuple[LocalAwsServer, LocalAwsServer]) -> None:
    """botocore keeps a call's ClientRequestToken across its retries (a read timeout, a reset connection): a
    retry of a lead's creation whose first attempt was written must succeed, as in DynamoDB, not answer 409."""
    fast, _ = servers
    dynamodb = _create_leads_table(fast, "Retried")
    items = [_put("Retried", "t1#a"), _put("Retried", "t1#a", "score", new=False)]
    dynamodb.transact_write_items(TransactItems=items, ClientRequestToken="token-1")
    dynamodb.transact_write_items(TransactItems=items, ClientRequestToken="token-1")  # the retry
    with pytest.raises(ClientError) as again:  # another call, another token: the lead exists
        dynamodb.transact_write_items(TransactItems=items, ClientRequestToken="token-2")
    assert again.value.response["Error"]["Code"] == "TransactionCanceledException"
    with pytest.raises(ClientError) as mismatch:
        dynamodb.transact_write_items(TransactItems=[_put("Retried", "t1#b")], ClientRequestToken="token-1")
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert dynamodb.scan(TableName="Retried", Select="COUNT")["Count"] == 2


def test_a_cancelled_transaction_undoes_only_its_own_writes(servers: tuple[LocalAwsServer, LocalAwsServer]) -> None:
    """Cancelled transactions racing other writers (moto serves requests in threads) leave every other write."""
    fast, _ = servers
    dynamodb = _create_leads_table(fast, "Raced")
    dynamodb.put_item(TableName="Raced", Item={"pk": {"S": "t1#taken"}, "sk": {"S": "lead"}})

    def cancelled(n: int) -> None:
        with pytest.raises(ClientError):
            dynamodb.transact_write_items(TransactItems=[_put("Raced", f"t1#x{n}"), _put("Raced", "t1#taken")])

    def written(n: int) -> None:
        dynamodb.transact_write_items(TransactItems=[_put("Raced", f"t1#w{n}"), _put("Raced", f"t1#w{n}", "s")])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: (cancelled if n % 2 else written)(n), range(200)))
    keys = {item["pk"]["S"] for item in dynamodb.scan(TableName="Raced")["Items"]}
    assert keys == {"t1#taken"} | {f"t1#w{n}" for n in range(0, 200, 2)}
