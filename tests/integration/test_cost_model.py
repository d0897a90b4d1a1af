"""The cost model at small scale (bench/cost.py): its accounting must agree with what the flows did."""

from __future__ import annotations

from typing import Any

import pytest

from bench import cost

LEADS, EVENTS, BULK_ROWS = 12, 2, 500


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    return cost.measure(leads=LEADS, events=EVENTS, bulk_rows=BULK_ROWS, rec_samples=1)


def _sum(phase: cost.Phase, actor: str, service: str, prefix: str) -> float:
    return sum(v for (a, s, m), v in phase.tally.items() if a == actor and s == service and m.startswith(prefix))


def _writes(phase: cost.Phase, actor: str, table: str) -> float:
    return sum(
        v
        for (a, s, m), v in phase.tally.items()
        if a == actor and s == "dynamodb" and m.startswith("writes:") and table in m
    )


def test_every_call_was_metered_and_belongs_to_one_function(result: dict[str, Any]) -> None:
    for phase in result["phases"].values():
        assert not [k for k in phase.tally if k[0] == "meter"], "the meter failed on some calls"
        assert not [k for k in phase.tally if k[0] == "unattributed"]


def test_api_path_counts_what_the_repositories_write(result: dict[str, Any]) -> None:
    api = result["phases"]["api"]
    # POST /v1/leads: one transaction of the lead, its score item and the score's history item per lead; no other
    # LeadsTable write
    assert _writes(api, "ApiFunction", "Leads") == 3 * LEADS
    assert _sum(api, "ApiFunction", "dynamodb", "calls:TransactWriteItems") == LEADS
    # the events function, storage/aggregates.py: a lead's first interaction starts a session (one conditional
    # update); each later one, within the session, first fails that condition and then updates (two writes,
    # both billed); and each interaction is logged first (one put: the training set replays the log)
    assert _writes(api, "EventsFunction", "Aggregates") == LEADS * (1 + 2 * (EVENTS - 1)) + LEADS * EVENTS
    # every lead announced once, in its transaction (OutboxTable), and published from the stream by the publisher;
    # API Gateway saw the leads and the events, one request each
    assert _writes(api, "ApiFunction", "Outbox") == LEADS
    assert _sum(api, "ApiFunction", "sns", "calls:") == 0
    assert _sum(api, "PublisherFunction", "sns", "calls:PublishBatch") >= 1
    assert api.count("ApiFunction") == LEADS * (1 + EVENTS)
    # transactional writes cost double: at least 2 units per item
    assert _sum(api, "ApiFunction", "dynamodb", "write_units") >= 2 * 3 * LEADS


def test_bulk_path_writes_each_stored_item_once(result: dict[str, Any]) -> None:
    bulk = result["phases"]["bulk"]
    stored_items = result["storage"]["bulk_items_per_row"] * BULK_ROWS
    assert stored_items > 2 * BULK_ROWS  # a lead, a score and a history item per valid row
    assert _writes(bulk, "BulkScoreFunction", "Leads") == pytest.approx(stored_items)
    assert bulk.count("BulkScoreFunction") >= 1
    assert _sum(bulk, "client", "s3", "put_requests") == 1  # the client's upload


def test_costs_are_positive_and_add_up(result: dict[str, Any]) -> None:
    functions = {name: cost.Function(**f) for name, f in result["functions"].items()}
    api = cost.costs(result["phases"]["api"], functions)
    assert set(api) == set(cost.SERVICES)
    for service in ("Lambda", "DynamoDB", "SNS", "SQS", "API Gateway", "CloudWatch Logs"):
        assert api[service] > 0, service
    assert cost.costs(result["phases"]["bulk"], functions)["S3"] > 0
    recs = cost.costs(result["phases"]["recs_cold"], functions)
    assert recs["API Gateway"] == pytest.approx(3.50)  # one REST request per GET, $3.50 per million
    # x86_64 costs more than arm64 for the same durations, and only Lambda changes
    x86 = cost.costs(result["phases"]["api"], functions, "x86_64")
    assert x86["Lambda"] > api["Lambda"]
    assert {k: v for k, v in x86.items() if k != "Lambda"} == {k: v for k, v in api.items() if k != "Lambda"}


def test_report_prints_the_table(result: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    cost.report(result)
    printed = capsys.readouterr().out
    for service in cost.SERVICES:
        assert service in printed
    assert "assumptions" in printed
    assert f"{EVENTS} interactions per lead" in printed
